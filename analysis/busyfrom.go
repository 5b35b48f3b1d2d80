package analysis

// busyFromText says, for a reason's text, what measured the busy share:
// its resolution, which bounds how much of a sample can pass for busy.
func busyFromText(from string) string {
	switch from {
	case "periods":
		return " (busy time from the CPU quota's bandwidth periods)"
	case "fine":
		return " (busy time from fine sampling)"
	case "samples":
		return " (busy time in whole samples)"
	}
	return ""
}
