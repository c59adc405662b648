// Package web holds Herald's live page: a self-contained HTML, CSS and
// JavaScript page, embedded in the binary, that subscribes to the hub with
// the browser's own EventSource and publishes to it with fetch.
//
// [Handler] serves the page with its index at "/". The page needs no build
// step and loads nothing from other origins; every element a test drives has
// a stable id (topic, types, last-event-id, hub-url, sub-token, token-cookie,
// token-query, with-credentials, subscribe, unsubscribe, state, events,
// event-count, clear-events, pub-topic, pub-data, pub-type, pub-id,
// pub-private, pub-token, publish, publish-result), which TestPageIDs keeps.
package web
