package tmpl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

func toInt(in any, a args) (any, error) {
	def, err := a.integer("default", 0)
	if err != nil {
		return nil, err
	}
	base, err := a.integer("base", 10)
	if err != nil {
		return nil, err
	}
	if base < 2 || base > 36 {
		return nil, fmt.Errorf("base %d out of range", base)
	}
	switch t := in.(type) {
	case int64:
		return t, nil
	case float64:
		return int64(t), nil
	case string:
		s := strings.TrimSpace(t)
		switch base {
		case 2:
			s = strings.TrimPrefix(s, "0b")
		case 8:
			s = strings.TrimPrefix(s, "0o")
		case 16:
			s = strings.TrimPrefix(s, "0x")
		}
		if i, err := strconv.ParseInt(s, int(base), 64); err == nil {
			return i, nil
		}
		if strings.Contains(s, ".") {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return int64(f), nil
			}
		}
		return def, nil
	}
	return nil, wrongInput(in, "a string or a number")
}

func toFloatFilter(in any, a args) (any, error) {
	def, err := a.number("default", 0)
	if err != nil {
		return nil, err
	}
	switch t := in.(type) {
	case int64:
		return float64(t), nil
	case float64:
		return t, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return f, nil
		}
		return def, nil
	}
	return nil, wrongInput(in, "a string or a number")
}

func abs(in any, _ args) (any, error) {
	switch t := in.(type) {
	case int64:
		if t < 0 {
			return -t, nil
		}
		return t, nil
	case float64:
		return math.Abs(t), nil
	}
	return nil, wrongInput(in, "a number")
}

func pluralize(in any, a args) (any, error) {
	singular, err := a.str("singular", "")
	if err != nil {
		return nil, err
	}
	plural, err := a.str("plural", "s")
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	if math.Abs(n) == 1 {
		return singular, nil
	}
	return plural, nil
}

func round(in any, a args) (any, error) {
	method, err := a.str("method", "common")
	if err != nil {
		return nil, err
	}
	precision, err := a.integer("precision", 0)
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	m := math.Pow(10, float64(precision))
	switch method {
	case "common":
		return math.Round(n*m) / m, nil
	case "ceil":
		return math.Ceil(n*m) / m, nil
	case "floor":
		return math.Floor(n*m) / m, nil
	}
	return nil, fmt.Errorf("method `%s` is not one of common, ceil, floor", method)
}

func fileSizeFormat(in any, a args) (any, error) {
	binary, err := a.boolean("binary", false)
	if err != nil {
		return nil, err
	}
	n, ok := toFloat(in)
	if !ok {
		return nil, wrongInput(in, "a number")
	}
	base, units := 1000.0, []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	if binary {
		base, units = 1024.0, []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	}
	n = math.Abs(math.Trunc(n))
	if n < base {
		return fmt.Sprintf("%d %s", int64(n), units[0]), nil
	}
	i := 0
	for n >= base && i < len(units)-1 {
		n /= base
		i++
	}
	return fmt.Sprintf("%.2f %s", n, units[i]), nil
}
