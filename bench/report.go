package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one run of the suite.
type Report struct {
	Started time.Time `json:"started"`
	Host    Host      `json:"host"`
	// Pairs is the number of interleaved pairs (rounds) behind each median.
	Pairs   int      `json:"pairs"`
	Figures []Figure `json:"figures"`
}

// Host says where the numbers come from; they mean nothing elsewhere.
type Host struct {
	Kernel    string `json:"kernel"`
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	Runc      string `json:"runc,omitempty"`
}

// Figure is one numbered figure of the suite: what was measured, and its
// medians, ratios and rates.
type Figure struct {
	Title string   `json:"title"`
	Setup string   `json:"setup"`
	Rows  []Row    `json:"rows"`
	Notes []string `json:"notes,omitempty"`
}

// Row is one number of a figure, with the target it must meet, if any.
type Row struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Target string  `json:"target,omitempty"`
	// Met is set only for rows with a target.
	Met *bool `json:"met,omitempty"`
	// IQR, when set, is the 25th and 75th percentile of the per-pair
	// values whose median Value is: how much the pairs disagree.
	IQR []float64 `json:"iqr,omitempty"`
}

// withIQR notes the spread of the per-pair values behind the row.
func (r Row) withIQR(perPair []float64) Row {
	r.IQR = []float64{quantile(perPair, 0.25), quantile(perPair, 0.75)}
	return r
}

// medianRow is a row for the median of per-pair values, with their IQR.
func medianRow(name string, perPair []float64, unit string) Row {
	return info(name, median(perPair), unit).withIQR(perPair)
}

// checkedMedian is medianRow judged against t.
func checkedMedian(name string, perPair []float64, unit string, t Target) Row {
	return checked(name, median(perPair), unit, t).withIQR(perPair)
}

// Target is a bound a figure should stay within.
type Target struct {
	Text string
	ok   func(float64) bool
}

func atMost(limit float64) Target {
	return Target{Text: "<= " + format(limit), ok: func(v float64) bool { return v <= limit }}
}

func below(limit float64) Target {
	return Target{Text: "< " + format(limit), ok: func(v float64) bool { return v < limit }}
}

func within(lo, hi float64) Target {
	return Target{Text: format(lo) + " to " + format(hi), ok: func(v float64) bool { return v >= lo && v <= hi }}
}

// info is a row without a target.
func info(name string, value float64, unit string) Row {
	return Row{Name: name, Value: value, Unit: unit}
}

// checked is a row judged against t.
func checked(name string, value float64, unit string, t Target) Row {
	met := t.ok(value)
	return Row{Name: name, Value: value, Unit: unit, Target: t.Text, Met: &met}
}

// Missed lists the rows whose target was not met, as "figure: row".
func (r Report) Missed() []string {
	var out []string
	for _, f := range r.Figures {
		for _, row := range f.Rows {
			if row.Met != nil && !*row.Met {
				out = append(out, f.Title+": "+row.Name)
			}
		}
	}
	return out
}

// WriteText prints the report as tables, one per figure.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "crhook benchmarks, %s\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "host: kernel %s, %d CPUs, %s", r.Host.Kernel, r.Host.CPUs, r.Host.GoVersion)
	if r.Host.Runc != "" {
		fmt.Fprintf(&b, ", runc %s", r.Host.Runc)
	}
	fmt.Fprintf(&b, "\nmedians of %d interleaved pairs; a ratio is the median of per-pair ratios\n", r.Pairs)
	if r.Pairs < MinPairs {
		fmt.Fprintf(&b, "warning: fewer than %d pairs; too noisy to judge the targets\n", MinPairs)
	}
	for _, f := range r.Figures {
		b.WriteString("\n")
		writeFigure(&b, f)
	}
	if missed := r.Missed(); len(missed) > 0 {
		fmt.Fprintf(&b, "\ntargets not met: %d (%s)\n", len(missed), strings.Join(missed, "; "))
	} else {
		b.WriteString("\nevery target met\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFigure(b *strings.Builder, f Figure) {
	fmt.Fprintf(b, "%s\n  %s\n", f.Title, f.Setup)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  \tmedian\t\tpairs, p25 to p75\ttarget\t\t\n")
	for _, row := range f.Rows {
		verdict := ""
		if row.Met != nil {
			verdict = "not met"
			if *row.Met {
				verdict = "met"
			}
		}
		spread := ""
		if len(row.IQR) == 2 {
			spread = format(row.IQR[0]) + " to " + format(row.IQR[1])
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t\n", row.Name, format(row.Value), row.Unit, spread, row.Target, verdict)
	}
	tw.Flush()
	for _, n := range f.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
}

// WriteFiles writes the text report to path and the JSON one beside it,
// with the extension .json.
func (r Report) WriteFiles(path string) (jsonPath string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("create results directory: %w", err)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(text.String()), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return "", fmt.Errorf("encode results: %w", err)
	}
	jsonPath = strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
	if err := os.WriteFile(jsonPath, data.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	return jsonPath, nil
}

// format shows about four significant digits without an exponent.
func format(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
