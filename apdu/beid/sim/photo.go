package sim

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// Size of the generated photo: the pre-2021 card photo format, a baseline
// 8-bit grey JPEG of 140x200 pixels (facts §3).
const (
	photoWidth  = 140
	photoHeight = 200
)

// defaultPhoto draws a grey head-and-shoulders silhouette and encodes it as
// a baseline JPEG. The drawing is deterministic and has enough texture that
// the file comes out near the ~3 KB of a real card photo, so reads span
// several READ BINARY chunks as they do on a real card.
func defaultPhoto() ([]byte, error) {
	img := image.NewGray(image.Rect(0, 0, photoWidth, photoHeight))
	for y := range photoHeight {
		for x := range photoWidth {
			v := 200 - y/4 // light background, darker towards the bottom
			dx, dy := float64(x-70)/34, float64(y-78)/44
			if dx*dx+dy*dy <= 1 { // head
				v = 150 + (x*7+y*3)%23
			}
			if sx := float64(x-70) / 66; y > 136 && sx*sx+float64(200-y)/64 <= 1.2 { // shoulders
				v = 70 + (x*5+y*11)%19
			}
			img.SetGray(x, y, color.Gray{Y: uint8(v)})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
