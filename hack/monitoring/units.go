package monitoring

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatValue writes a value in a Grafana unit: s, bytes, percentunit, reqps, ops, short and
// none are the ones the dashboards use.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	if math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch unit {
	case "percentunit":
		return trim(v*100, 3) + "%"
	case "s":
		return duration(v)
	case "bytes":
		return iec(v)
	case "reqps":
		return si(v) + " req/s"
	case "ops":
		return si(v) + " ops/s"
	}
	return si(v)
}

// FormatTicks writes an axis's tick values in one scale, the one that suits the largest:
// 0, 50 s, 100 s, 150 s rather than 0, 50 s, 100 s, 2.5 min.
func FormatTicks(ticks []float64, unit string) []string {
	top := 0.0
	for _, t := range ticks {
		top = math.Max(top, math.Abs(t))
	}
	out := make([]string, len(ticks))
	for i, t := range ticks {
		out[i] = formatScaled(t, top, unit)
	}
	return out
}

// formatScaled writes v in the scale FormatValue would choose for top.
func formatScaled(v, top float64, unit string) string {
	if v == 0 || top == 0 {
		return FormatValue(v, unit)
	}
	ref := FormatValue(top, unit)
	got := FormatValue(v, unit)
	refSuffix, gotSuffix := suffix(ref), suffix(got)
	if refSuffix == gotSuffix {
		return got
	}
	// Rescale v into top's suffix: the ratio of the two numbers is the ratio of the values.
	num := 0.0
	if _, err := fmt.Sscan(strings.TrimSuffix(ref, refSuffix), &num); err != nil || num == 0 {
		return got
	}
	return trim(v/top*num, 3) + refSuffix
}

// suffix is what follows the number of a formatted value (" ms", " KiB", "%").
func suffix(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '%' })
	if i < 0 {
		return ""
	}
	return s[i:]
}

// duration writes seconds as µs, ms, s, min or h.
func duration(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e-3:
		return trim(v*1e6, 3) + " µs"
	case a < 1:
		return trim(v*1e3, 3) + " ms"
	case a < 120:
		return trim(v, 3) + " s"
	case a < 7200:
		return trim(v/60, 3) + " min"
	}
	return trim(v/3600, 3) + " h"
}

// iec writes bytes with binary prefixes.
func iec(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return trim(v, 3) + " " + units[i]
}

// si writes a number with SI prefixes from milli to giga.
func si(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a < 1e-3:
		return strconv.FormatFloat(v, 'g', 2, 64)
	case a < 1:
		return trim(v, 2)
	case a < 1e3:
		return trim(v, 3)
	case a < 1e6:
		return trim(v/1e3, 3) + " K"
	case a < 1e9:
		return trim(v/1e6, 3) + " M"
	}
	return trim(v/1e9, 3) + " G"
}

// trim writes v with about digits significant digits and no trailing zeros.
func trim(v float64, digits int) string {
	if v == 0 {
		return "0"
	}
	mag := int(math.Floor(math.Log10(math.Abs(v)))) + 1
	decimals := max(digits-mag, 0)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for t := math.Floor(lo/step) * step; ; t += step {
		out = append(out, math.Round(t/step)*step)
		if t >= hi-step/1e6 {
			return out
		}
	}
}
