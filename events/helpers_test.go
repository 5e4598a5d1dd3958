package events

import (
	"testing"
	"time"
)

// testCatalogue is the default catalogue (config.DefaultCatalogue; events may not
// import config).
var testCatalogue = []string{
	"claim.created", "claim.closed", "claim.reopened", "claim.label_added",
	"claim.label_removed", "claim.assigned", "claim.unassigned", "claim.switched_type",
	"contact.created",
}

func mustCatalogue(t testing.TB) *Catalogue {
	t.Helper()
	c, err := NewCatalogue(testCatalogue)
	if err != nil {
		t.Fatalf("NewCatalogue: %v", err)
	}
	return c
}

func mustParser(t testing.TB) *Parser { return NewParser(mustCatalogue(t), 0) }

var sampleTime = time.Date(2025, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func sampleObjectID(name string) string {
	if name == "contact.created" {
		return "con_01HV4Q1J6E"
	}
	return "clm_01HV4P8R2T"
}
