package specs

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

func idOrDash(id *uuid.UUID) string {
	if id == nil {
		return "-"
	}
	return id.String()
}

func tp(t time.Time) *time.Time { return &t }

// WorkOrder is the table of queued work orders.
var WorkOrder = output.Spec[client.WorkOrder]{
	Kind:   "workorder",
	Plural: "work orders",
	Name:   func(w client.WorkOrder) string { return w.ID.String() },
	Columns: []output.Column[client.WorkOrder]{
		output.Text("ID", func(w client.WorkOrder) string { return w.ID.String() }),
		output.Text("TYPE", func(w client.WorkOrder) string { return w.WorkType }),
		output.Text("STATUS", func(w client.WorkOrder) string { return w.Status }),
		output.Text("RETRIES", func(w client.WorkOrder) string {
			return strconv.Itoa(int(w.RetryCount)) + "/" + strconv.Itoa(int(w.MaxRetries))
		}),
		output.Text("CLAIMED BY", func(w client.WorkOrder) string { return idOrDash(w.ClaimedBy) }),
		output.Age("AGE", func(w client.WorkOrder) *time.Time { return tp(w.CreatedAt) }),
		output.WideOnly(output.Age("CLAIMED", func(w client.WorkOrder) *time.Time { return w.ClaimedAt })),
		output.WideOnly(output.Age("NEXT RETRY", func(w client.WorkOrder) *time.Time { return w.NextRetryAfter })),
		output.WideOnly(output.Age("UPDATED", func(w client.WorkOrder) *time.Time { return tp(w.UpdatedAt) })),
		output.WideOnly(output.Text("LAST ERROR", func(w client.WorkOrder) string { return output.OrDash(w.LastError) })),
	},
}

// WorkOrderLog is the table of finished work orders.
var WorkOrderLog = output.Spec[client.WorkOrderLog]{
	Kind:   "workorderlog",
	Plural: "work order log entries",
	Name:   func(l client.WorkOrderLog) string { return l.ID.String() },
	Columns: []output.Column[client.WorkOrderLog]{
		output.Text("ID", func(l client.WorkOrderLog) string { return l.ID.String() }),
		output.Text("TYPE", func(l client.WorkOrderLog) string { return l.WorkType }),
		output.Text("RESULT", func(l client.WorkOrderLog) string {
			if l.Success {
				return "succeeded"
			}
			return "failed"
		}),
		output.Text("RETRIES", func(l client.WorkOrderLog) string { return strconv.Itoa(int(l.RetriesAttempted)) }),
		output.Text("AGENT", func(l client.WorkOrderLog) string { return idOrDash(l.ClaimedBy) }),
		output.Age("COMPLETED", func(l client.WorkOrderLog) *time.Time { return tp(l.CompletedAt) }),
		output.WideOnly(output.Age("CREATED", func(l client.WorkOrderLog) *time.Time { return tp(l.CreatedAt) })),
		output.WideOnly(output.Text("MESSAGE", func(l client.WorkOrderLog) string { return output.OrDash(l.ResultMessage) })),
	},
}
