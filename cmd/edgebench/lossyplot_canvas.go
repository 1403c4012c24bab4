package main

import (
	"os"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"
)

// vgimgCanvas is a PNG canvas.
type vgimgCanvas struct{ *vgimg.Canvas }

func newCanvas(w, h vg.Length) *vgimgCanvas {
	return &vgimgCanvas{vgimg.New(w, h)}
}

// savePNG writes the canvas as a PNG file.
func (c *vgimgCanvas) savePNG(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c.Canvas}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
