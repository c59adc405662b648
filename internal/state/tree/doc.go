// Package tree is the JSON tree behind Herald's Firebase-compatible REST
// API: an immutable value with the Firebase Realtime Database's semantics,
// and the operations a store, its HTTP handlers and its streams need.
//
// # Values
//
// A [*Node] is a value: a string, number or boolean leaf, or an object with
// at least one child; nil is null, the value of an absent location. Nodes
// never change once built. A write returns a new root that shares all but
// the written path with the old one ([Node.Set], [Node.Update], [Node.Apply]),
// so one writer can build the next version while any number of readers use
// the current one, without locks. Objects keep their children in
// copy-on-write B-trees: writing below an object of many children copies a
// few B-tree nodes, not the object.
//
// # Reading requests
//
// [ParsePath] reads a request's location from its escaped URL path.
// [Parse] reads a PUT or POST body and [ParseUpdate] a PATCH body, within
// [Limits]; both keep Firebase's rules for keys ([ValidKey]), drop nulls, and
// accept server values ({".sv": "timestamp"}, {".sv": {"increment": n}}),
// which [Resolve] replaces before a value is stored. [ParseQuery] reads the
// orderBy/startAt/limitToFirst family of parameters into a [Query] that
// [Node.Query] applies. Every error meant for the client is an [*Error],
// worded for it.
//
// # Writing answers
//
// [Node.AppendJSON] and [Node.WriteJSON] render a value as Firebase does,
// arrays included ([Format] holds print=pretty and shallow=true), and
// [Node.ETag] gives the tag of conditional requests. Children come in
// Firebase's key order ([CompareKeys]).
//
// # Operations and streams
//
// An [Op] is a put or a patch as a journal records it. [Op.AppendData]
// renders it as a stream event's data and [DecodeOp] reads it back;
// [Op.Project] gives the event a stream watching some location receives,
// relative to that location, or none when the write does not touch it.
package tree
