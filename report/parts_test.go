package report

import "testing"

// Two weeks of data give a day-of-week profile; one does not. Hours and
// days without data read -1.
func TestProfileShares(t *testing.T) {
	var p Profile
	p.Hour[0][3], p.Hour[1][3] = 7200, 1800
	p.Weekday[0][1], p.Weekday[1][1] = 7200, 7200
	p.Hours = 13 * 24
	q := p
	q.Hours = 0
	p.Add(&q)
	p.finish()
	if p.IdleByHour[3] != 0.25 || p.IdleByHour[4] != -1 || p.IdleByWeekday != nil {
		t.Errorf("13 days: %+v", p)
	}
	p.Hours = 14 * 24
	p.finish()
	if len(p.IdleByWeekday) != 7 || p.IdleByWeekday[1] != 1 || p.IdleByWeekday[0] != -1 {
		t.Errorf("14 days: %v", p.IdleByWeekday)
	}
}
