package transport

import (
	"fmt"
	"testing"
)

// BenchmarkCompress measures, per codec, the CPU to compress and to
// decompress one chat payload (Deliver batches of 100-2000 bytes of
// JSON-bodied messages, see chatCorpus) and the bytes saved:
//
//	go test -run '^$' -bench Compress -count 5 ./transport
//
// saved_pct is (payload - frame payload) / payload over the whole corpus;
// payloads under the threshold or that do not shrink are sent as is, which
// the figure includes.
func BenchmarkCompress(b *testing.B) {
	corpus := chatCorpus(256, 42)
	for _, codec := range []Codec{CodecS2, CodecZstd} {
		for _, threshold := range []int{1, DefaultCompressThreshold} {
			c := &Compressor{Codec: codec, Threshold: threshold}
			frames := make([][]byte, len(corpus))
			var in, out int
			for i, p := range corpus {
				f, err := AppendFrame(nil, TypeDeliver, nil, p, c)
				if err != nil {
					b.Fatal(err)
				}
				frames[i] = f
				in += len(p)
				out += len(f) - HeaderSize
			}
			saved := 100 * float64(in-out) / float64(in)
			name := fmt.Sprintf("%v/threshold=%d", codecName(codec), threshold)
			b.Run(name+"/encode", func(b *testing.B) {
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					p := corpus[i%len(corpus)]
					i++
					b.SetBytes(int64(len(p)))
					var err error
					if buf, err = AppendFrame(buf[:0], TypeDeliver, nil, p, c); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(saved, "saved_pct")
			})
			b.Run(name+"/decode", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					f := frames[i%len(frames)]
					i++
					b.SetBytes(int64(len(corpus[(i-1)%len(corpus)])))
					if _, err := ParseFrame(f, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func codecName(c Codec) string {
	switch c {
	case CodecS2:
		return "s2"
	case CodecZstd:
		return "zstd"
	}
	return "none"
}
