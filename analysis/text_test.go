package analysis

import (
	"testing"
	"time"
)

func TestTextFormatting(t *testing.T) {
	var tb textBuilder
	tb.begin("x", false).dur(3*24*time.Hour+4*time.Hour).s(" ").dur(2*time.Hour+5*time.Minute).s(" ").dur(15*time.Minute).s(" ").
		dur(90*time.Second).s(" ").dur(30*time.Second).s(" ").num(0.500, 3).s(" ").num(2, 3).s(" ").pct(0.934).s(" ").
		money(18.0205, "USD").s(" ").money(0.0222165, "USD").s(" ").mib(256 * mib).s(" ").hourRanges([]int{0, 1, 2, 5, 7, 8, 23})
	var r Result
	tb.begin("b", true).s("blocked")
	tb.finish(&r)
	want := "3d4h 2h5m 15m 1m30s 30s 0.5 2 93.4% 18.02 USD 0.0222 USD 256 MiB 00-02, 05, 07-08, 23"
	if len(r.Reasons) != 1 || r.Reasons[0].Text != want || len(r.Blockers) != 1 || r.Blockers[0] != (Reason{"b", "blocked"}) {
		t.Fatalf("reasons %q blockers %q\nwant %q", r.Reasons, r.Blockers, want)
	}
	if cap(r.Blockers) != 1 {
		t.Fatal("appending to Blockers would overwrite Reasons")
	}
}

func TestRangeTexts(t *testing.T) {
	var tb textBuilder
	tb.moneyRange(0.99114, 1.6812, "USD").s("; ").moneyRange(1.9161, 1.9249, "USD").s("; ").
		durRange(36*time.Hour, 73*time.Hour).s("; ").durRange(0, 0)
	if got, want := string(tb.b), "0.9911 USD to 1.68 USD; 1.92 USD; 1d12h to 3d1h; 0s"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
