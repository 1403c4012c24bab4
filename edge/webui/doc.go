// Package webui holds the browser side of edgegate, embedded in the edge
// binary with go:embed: the browser SDK (static/edgegate.js, one ES module
// with no dependencies, served at the stable path /sdk/edgegate.js), its
// Protobuf schema table (static/schema.js, generated from the Go
// descriptors of transport/pb by TestSchemaUpToDate -update), the dev-mode
// demo page (static/index.html, app.js, style.css) and the operator status
// page (static/status.html).
//
// It must not touch: sessions, routing or storage. The edge (edge/http.go)
// decides which routes exist and who may see them; this package only
// serves files.
//
// Design decisions:
//
//   - The SDK speaks the same frames as the Go SDK (8-byte header, TLV
//     extensions, Protobuf payload). It asks for no compression
//     (Connect.compression empty): browsers have no S2 or zstd decoder,
//     and shipping one would weigh more than the bytes it saves on chat.
//   - Protobuf in the browser is a small table-driven codec over a schema
//     generated from the same descriptors the Go code uses, so the two
//     cannot drift; a test runs the JS codec under Node and compares its
//     bytes with Go's for every frame type.
package webui
