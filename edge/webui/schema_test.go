package webui

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

var update = flag.Bool("update", false, "rewrite static/schema.js from the Go descriptors")

const schemaPath = "static/schema.js"

// TestSchemaUpToDate checks that static/schema.js, the Protobuf schema table
// of the browser SDK, matches the Go descriptors of transport/pb. Run
// `go test ./edge/webui -run TestSchemaUpToDate -update` to regenerate it.
func TestSchemaUpToDate(t *testing.T) {
	want := genSchema(t)
	if *update {
		if err := os.WriteFile(schemaPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", schemaPath)
		return
	}
	got, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./edge/webui -run TestSchemaUpToDate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with transport/pb; run: go test ./edge/webui -run TestSchemaUpToDate -update", schemaPath)
	}
}

// marshalOrder sorts fields in the order Go's proto.Marshal writes them
// (internal/impl's use of order.LegacyFieldOrder): fields outside a oneof
// by number, then oneof members, grouped by oneof declaration order, by
// number.
func marshalOrder(a, b protoreflect.FieldDescriptor) int {
	oneofIndex := func(f protoreflect.FieldDescriptor) int {
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			return o.Index()
		}
		return -1
	}
	if oa, ob := oneofIndex(a), oneofIndex(b); oa != ob {
		return oa - ob
	}
	return int(a.Number()) - int(b.Number())
}

// genSchema renders the JS module static/schema.js from the descriptors.
func genSchema(t *testing.T) []byte {
	t.Helper()
	fd := pb.File_transport_pb_edgegate_proto
	var b bytes.Buffer
	b.WriteString(`// Code generated from transport/pb/edgegate.proto by
// go test ./edge/webui -run TestSchemaUpToDate -update
// DO NOT EDIT.

/**
 * Protobuf messages of the edgegate wire protocol: message name -> fields in
 * the order Go's proto.Marshal writes them (by field number, members of a
 * oneof last), which the JS encoder follows to produce the same bytes. Each
 * field has number, name (lowerCamelCase JSON name), kind (protobuf kind:
 * string, bytes, bool, uint32, uint64, int64, enum, message), and when
 * applicable repeated, packed, message (message type name), enum (enum type
 * name) and oneof (oneof name).
 */
export const schema = {
`)
	msgs := fd.Messages()
	for i := range msgs.Len() {
		md := msgs.Get(i)
		fmt.Fprintf(&b, "  %s: [\n", md.Name())
		fields := make([]protoreflect.FieldDescriptor, 0, md.Fields().Len())
		for j := range md.Fields().Len() {
			fields = append(fields, md.Fields().Get(j))
		}
		slices.SortFunc(fields, marshalOrder)
		for _, f := range fields {
			fmt.Fprintf(&b, "    { number: %d, name: '%s', kind: '%s'", f.Number(), f.JSONName(), f.Kind())
			if f.IsList() {
				b.WriteString(", repeated: true")
				if f.IsPacked() {
					b.WriteString(", packed: true")
				}
			}
			if f.IsMap() {
				t.Fatalf("%s: map fields are not supported by the JS codec", f.FullName())
			}
			switch f.Kind() {
			case protoreflect.MessageKind:
				fmt.Fprintf(&b, ", message: '%s'", f.Message().Name())
			case protoreflect.EnumKind:
				fmt.Fprintf(&b, ", enum: '%s'", f.Enum().Name())
			case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.BoolKind,
				protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Int64Kind, protoreflect.Int32Kind:
			default:
				t.Fatalf("%s: kind %v is not supported by the JS codec", f.FullName(), f.Kind())
			}
			if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
				fmt.Fprintf(&b, ", oneof: '%s'", o.Name())
			}
			b.WriteString(" },\n")
		}
		b.WriteString("  ],\n")
	}
	b.WriteString("};\n\n")

	b.WriteString("/** Frame type byte of each message that travels in a frame (transport.FrameType). */\nexport const frameTypes = {\n")
	for ft := transport.FrameType(1); ft.Known(); ft++ {
		m, err := transport.NewMessage(ft)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  %s: %d,\n", m.ProtoReflect().Descriptor().Name(), ft)
	}
	b.WriteString("};\n\n")

	b.WriteString("/** Enums: enum name -> value name -> number. */\nexport const enums = {\n")
	enums := fd.Enums()
	for i := range enums.Len() {
		ed := enums.Get(i)
		fmt.Fprintf(&b, "  %s: {\n", ed.Name())
		for j := range ed.Values().Len() {
			v := ed.Values().Get(j)
			fmt.Fprintf(&b, "    %s: %d,\n", v.Name(), v.Number())
		}
		b.WriteString("  },\n")
	}
	b.WriteString("};\n")
	return b.Bytes()
}
