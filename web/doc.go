// Package web holds Herald's browser client and live page, embedded in the
// binary.
//
// The client, herald.js, subscribes with one callback API over the
// browser's own EventSource, long polling (fetch) or WebSocket, falls back
// from the stream to polling when the browser has no EventSource or a proxy
// buffers or refuses the stream, and resumes exactly after the last event it delivered
// across reconnections and transport switches. herald.mjs exports it as a
// module. The live page, a self-contained HTML, CSS and JavaScript page,
// subscribes through herald.js, can switch transport while subscribed, and
// publishes through it.
//
// [Handler] serves the page with its index at "/". The page needs no build
// step and loads nothing from other origins; every element a test drives has
// a stable id (topic, types, last-event-id, transport, hub-url, sub-token,
// token-cookie, token-query, with-credentials, subscribe, unsubscribe,
// state, events, event-count, clear-events, pub-topic, pub-data, pub-type,
// pub-id, pub-private, pub-token, publish, publish-result), which
// TestPageIDs keeps.
package web
