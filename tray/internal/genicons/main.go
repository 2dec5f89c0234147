// Command genicons draws cardbridge's tray icons, one per daemon state, as
// PNG (Linux, macOS) and ICO (Windows) files. The output is committed and
// embedded with go:embed; run it again only to change the artwork:
//
//	go run ./tray/internal/genicons -out tray/icons
//
// Each icon is an ID card with a chip, coloured by state, and a badge in
// the lower right corner whose colour and symbol both tell the state, so
// that it reads at 16 px and without colour vision.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

const size = 64 // pixels; hosts scale down
const ss = 4    // supersampling factor for anti-aliasing

type spec struct {
	name   string
	card   color.RGBA
	badge  color.RGBA
	symbol func(x, y float64) bool // in badge-local unit coordinates [-1,1]
}

var (
	grey   = color.RGBA{0x8a, 0x8f, 0x98, 0xff}
	blue   = color.RGBA{0x2d, 0x6c, 0xdf, 0xff}
	green  = color.RGBA{0x1e, 0x9e, 0x4a, 0xff}
	amber  = color.RGBA{0xf0, 0xa2, 0x02, 0xff}
	orange = color.RGBA{0xe0, 0x6c, 0x00, 0xff}
	red    = color.RGBA{0xd3, 0x2f, 0x2f, 0xff}
	white  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	gold   = color.RGBA{0xe8, 0xc1, 0x5a, 0xff}
)

var specs = []spec{
	{"starting", grey, grey, dots},
	{"noservice", grey, red, cross},
	{"noreader", grey, orange, bar},
	{"nocard", blue, grey, ring},
	{"card", blue, green, check},
	{"busy", blue, amber, dots},
}

func main() {
	out := flag.String("out", "tray/icons", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, s := range specs {
		img := draw(s)
		var pngBuf bytes.Buffer
		if err := png.Encode(&pngBuf, img); err != nil {
			log.Fatal(err)
		}
		write(filepath.Join(*out, s.name+".png"), pngBuf.Bytes())
		write(filepath.Join(*out, s.name+".ico"), ico(pngBuf.Bytes()))
	}
}

func write(path string, data []byte) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", path)
}

// ico wraps one PNG image in an ICO container; Windows Vista and later
// read PNG-compressed ICO entries.
func ico(pngData []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, [3]uint16{0, 1, 1}) // reserved, type icon, 1 image
	b.WriteByte(size)                        // width
	b.WriteByte(size)                        // height
	b.WriteByte(0)                           // palette
	b.WriteByte(0)                           // reserved
	binary.Write(&b, le, uint16(1))          // planes
	binary.Write(&b, le, uint16(32))         // bits per pixel
	binary.Write(&b, le, uint32(len(pngData)))
	binary.Write(&b, le, uint32(6+16)) // offset of the image data
	b.Write(pngData)
	return b.Bytes()
}

func draw(s spec) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / size
					y := (float64(py) + (float64(sy)+0.5)/ss) / size
					c := sample(s, x, y)
					fa := float64(c.A) / 255
					r += float64(c.R) * fa
					g += float64(c.G) * fa
					b += float64(c.B) * fa
					a += fa
				}
			}
			n := float64(ss * ss)
			if a > 0 {
				img.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(255 * a / n)})
			}
		}
	}
	return img
}

// sample returns the colour at (x, y) in unit coordinates; later layers
// paint over earlier ones.
func sample(s spec, x, y float64) color.RGBA {
	var c color.RGBA
	// Card: rounded rectangle with ISO ID-1 proportions.
	if roundRect(x, y, 0.04, 0.18, 0.92, 0.62, 0.08) {
		c = s.card
		// Chip.
		if roundRect(x, y, 0.14, 0.34, 0.20, 0.17, 0.03) {
			c = gold
		}
		// Text lines.
		if roundRect(x, y, 0.42, 0.34, 0.38, 0.06, 0.03) || roundRect(x, y, 0.42, 0.46, 0.26, 0.06, 0.03) {
			c = color.RGBA{0xff, 0xff, 0xff, 0xb0}
		}
	}
	// Badge: disc with a white outline so it stands out on the card.
	bx, by, br := 0.74, 0.74, 0.25
	d := math.Hypot(x-bx, y-by)
	if d <= br {
		c = white
	}
	if d <= br-0.04 {
		c = s.badge
		if s.symbol((x-bx)/(br-0.04), (y-by)/(br-0.04)) {
			c = white
		}
	}
	return c
}

func roundRect(x, y, x0, y0, w, h, r float64) bool {
	if x < x0 || y < y0 || x > x0+w || y > y0+h {
		return false
	}
	cx := math.Max(x0+r, math.Min(x, x0+w-r))
	cy := math.Max(y0+r, math.Min(y, y0+h-r))
	return math.Hypot(x-cx, y-cy) <= r
}

// Badge symbols in [-1,1]² badge coordinates.

func check(x, y float64) bool {
	return segDist(x, y, -0.5, 0.0, -0.12, 0.4) < 0.16 || segDist(x, y, -0.12, 0.4, 0.5, -0.35) < 0.16
}

func cross(x, y float64) bool {
	return segDist(x, y, -0.42, -0.42, 0.42, 0.42) < 0.16 || segDist(x, y, -0.42, 0.42, 0.42, -0.42) < 0.16
}

func bar(x, y float64) bool { return math.Abs(y) < 0.16 && math.Abs(x) < 0.55 }

func ring(x, y float64) bool {
	d := math.Hypot(x, y)
	return d > 0.3 && d < 0.55
}

func dots(x, y float64) bool {
	for _, cx := range []float64{-0.45, 0, 0.45} {
		if math.Hypot(x-cx, y) < 0.17 {
			return true
		}
	}
	return false
}

func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(px-(ax+t*dx), py-(ay+t*dy))
}
