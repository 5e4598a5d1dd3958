package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Plot colours; docs/benchmarks.md names them in its legend.
var (
	colP50  = color.RGBA{0x1f, 0x77, 0xb4, 0xff} // blue
	colP99  = color.RGBA{0xd6, 0x27, 0x28, 0xff} // red
	colMax  = color.RGBA{0xbb, 0xbb, 0xbb, 0xff} // grey
	colMark = color.RGBA{0x2c, 0xa0, 0x2c, 0xff} // green
	colAxis = color.RGBA{0x33, 0x33, 0x33, 0xff}
	colGrid = color.RGBA{0xee, 0xee, 0xee, 0xff}
)

// PlotLatency draws series as a PNG (width×height): p50 (blue), p99 (red) and max
// (grey) latency per bucket against time, vertical green lines at marks, with labelled
// axes (seconds; milliseconds on a log10 scale, so a restart's spike and the steady
// state are both readable). It uses only the standard library.
func PlotLatency(w io.Writer, series []Point, marks []Mark, width, height int) error {
	if width < 200 || height < 120 {
		return fmt.Errorf("bench: plot %dx%d is too small (min 200x120)", width, height)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	left, right, top, bottom := 48, width-12, 12, height-28

	tMax := 1.0
	for _, p := range series {
		tMax = math.Max(tMax, p.At)
	}
	for _, m := range marks {
		tMax = math.Max(tMax, m.At)
	}
	yMin, yMax := 0.0, 1.0 // log10(ms): 1 ms .. 10 ms at least
	for _, p := range series {
		if p.Count > 0 {
			yMax = math.Max(yMax, math.Ceil(math.Log10(math.Max(p.Max, 1))))
		}
	}
	x := func(t float64) int { return left + int(t/tMax*float64(right-left)) }
	y := func(v float64) int {
		l := math.Log10(math.Max(v, 1))
		return bottom - int((l-yMin)/(yMax-yMin)*float64(bottom-top))
	}

	// Grid and labels: one line per decade, one per ~10 % of the time axis.
	for d := yMin; d <= yMax; d++ {
		yy := y(math.Pow(10, d))
		hline(img, left, right, yy, colGrid)
		drawText(img, 4, yy-3, strconv.FormatFloat(math.Pow(10, d), 'f', -1, 64), colAxis)
	}
	step := niceStep(tMax / 8)
	for t := 0.0; t <= tMax+1e-9; t += step {
		vline(img, x(t), top, bottom, colGrid)
		drawText(img, x(t)-4, bottom+6, strconv.FormatFloat(t, 'f', -1, 64), colAxis)
	}
	drawText(img, right-8*4, bottom+16, "time s", colAxis)
	drawText(img, 4, top-8+2, "ms", colAxis)
	hline(img, left, right, bottom, colAxis)
	vline(img, left, top, bottom, colAxis)

	for _, m := range marks {
		vline(img, x(m.At), top, bottom, colMark)
	}
	for _, s := range []struct {
		c color.Color
		v func(Point) float64
	}{{colMax, func(p Point) float64 { return p.Max }}, {colP50, func(p Point) float64 { return p.P50 }}, {colP99, func(p Point) float64 { return p.P99 }}} {
		px, py := -1, -1
		for _, p := range series {
			if p.Count == 0 {
				px = -1
				continue
			}
			cx, cy := x(p.At), y(s.v(p))
			if px >= 0 {
				line(img, px, py, cx, cy, s.c)
			}
			dot(img, cx, cy, s.c)
			px, py = cx, cy
		}
	}
	return png.Encode(w, img)
}

// niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

func dot(img *image.RGBA, x, y int, c color.Color) {
	for dx := -1; dx <= 1; dx++ {
		for dy := -1; dy <= 1; dy++ {
			img.Set(x+dx, y+dy, c)
		}
	}
}

// line draws a segment with Bresenham's algorithm, two pixels thick.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// glyphs is a 3×5 pixel font for axis labels: each row is 3 bits, most significant left.
var glyphs = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 2, 2},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, '.': {0, 0, 0, 0, 2}, '-': {0, 0, 7, 0, 0},
	'm': {0, 0, 7, 7, 5}, 's': {0, 3, 6, 1, 6}, 't': {2, 7, 2, 2, 3}, 'i': {2, 0, 2, 2, 2},
	'e': {0, 7, 7, 4, 7}, ' ': {},
}

// drawText writes s at (x, y) in the 3×5 font, one pixel between characters; unknown
// characters are skipped as blanks.
func drawText(img *image.RGBA, x, y int, s string, c color.Color) {
	for _, r := range s {
		g := glyphs[r]
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) != 0 {
					img.Set(x+col, y+row, c)
				}
			}
		}
		x += 4
	}
}
