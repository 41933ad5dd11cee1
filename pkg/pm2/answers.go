package pm2

// Answers are a worker's HTTP answers by status class since it started,
// as the drain preload counts them (in its memory report, so at its pace:
// up to NEXT_DEPLOY_MEM_MS behind).
type Answers struct {
	// ByClass[0] counts 1xx answers, ... ByClass[4] 5xx.
	ByClass [5]int64
}

// ServerErrors counts the 5xx answers.
func (a Answers) ServerErrors() int64 { return a.ByClass[4] }

// Total counts every answer.
func (a Answers) Total() int64 {
	var n int64
	for _, c := range a.ByClass {
		n += c
	}
	return n
}

// answers reads the report's counts; nil from a preload that does not
// count (older than the field).
func (m *memReport) answers() *Answers {
	if len(m.Answers) != len(Answers{}.ByClass) {
		return nil
	}
	var a Answers
	copy(a.ByClass[:], m.Answers)
	return &a
}
