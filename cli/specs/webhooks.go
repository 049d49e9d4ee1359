package specs

import (
	"strconv"
	"strings"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Webhook is the table of webhook subscriptions.
var Webhook = output.Spec[client.WebhookResponse]{
	Kind: "webhook",
	Name: func(w client.WebhookResponse) string { return w.ID.String() },
	Columns: []output.Column[client.WebhookResponse]{
		output.Text("ID", func(w client.WebhookResponse) string { return w.ID.String() }),
		output.Text("NAME", func(w client.WebhookResponse) string { return w.Name }),
		output.Text("EVENTS", func(w client.WebhookResponse) string { return strings.Join(w.EventTypes, ",") }),
		output.Text("ENABLED", func(w client.WebhookResponse) string { return output.YesNo(w.Enabled) }),
		output.Text("DELIVERED BY", func(w client.WebhookResponse) string {
			if w.TargetLabels == nil {
				return "broker"
			}
			return "agents:" + strings.Join(w.TargetLabels, ",")
		}),
		output.Age("AGE", func(w client.WebhookResponse) *time.Time { return &w.CreatedAt }),
		output.WideOnly(output.Text("RETRIES", func(w client.WebhookResponse) string { return strconv.Itoa(int(w.MaxRetries)) })),
		output.WideOnly(output.Text("TIMEOUT", func(w client.WebhookResponse) string { return strconv.Itoa(int(w.TimeoutSeconds)) + "s" })),
		output.WideOnly(output.Text("AUTH", func(w client.WebhookResponse) string { return output.YesNo(w.HasAuthHeader) })),
		output.WideOnly(output.Text("CREATED BY", func(w client.WebhookResponse) string { return output.OrDash(w.CreatedBy) })),
	},
}

// Delivery is the table of webhook deliveries.
var Delivery = output.Spec[client.WebhookDelivery]{
	Kind:   "delivery",
	Plural: "deliveries",
	Name:   func(d client.WebhookDelivery) string { return d.ID.String() },
	Columns: []output.Column[client.WebhookDelivery]{
		output.Text("ID", func(d client.WebhookDelivery) string { return d.ID.String() }),
		output.Text("EVENT", func(d client.WebhookDelivery) string { return d.EventType }),
		output.Text("STATUS", func(d client.WebhookDelivery) string { return d.Status }),
		output.Text("ATTEMPTS", func(d client.WebhookDelivery) string { return strconv.Itoa(int(d.Attempts)) }),
		output.Age("CREATED", func(d client.WebhookDelivery) *time.Time { return &d.CreatedAt }),
		output.Text("LAST ERROR", func(d client.WebhookDelivery) string { return output.OrDash(d.LastError) }),
		output.WideOnly(output.Age("NEXT RETRY", func(d client.WebhookDelivery) *time.Time { return d.NextRetryAt })),
		output.WideOnly(output.Age("COMPLETED", func(d client.WebhookDelivery) *time.Time { return d.CompletedAt })),
		output.WideOnly(output.Text("EVENT ID", func(d client.WebhookDelivery) string { return d.EventID.String() })),
	},
}

// EventType is the table of webhook event types.
var EventType = output.Spec[string]{
	Kind:   "eventtype",
	Plural: "event types",
	Name:   func(s string) string { return s },
	Columns: []output.Column[string]{
		output.Text("EVENT TYPE", func(s string) string { return s }),
	},
}
