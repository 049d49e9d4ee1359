package config

// TelemetrySettings is the effective telemetry configuration of one component, after its
// override has been applied to the shared [telemetry] values.
type TelemetrySettings struct {
	Enabled      bool
	OTLPEndpoint string
	ServiceName  string
	SamplingRate float64
}

// ForBroker returns the broker's effective telemetry settings.
func (t Telemetry) ForBroker() TelemetrySettings { return t.resolve(t.Broker) }

// ForAgent returns the agent's effective telemetry settings.
func (t Telemetry) ForAgent() TelemetrySettings { return t.resolve(t.Agent) }

func (t Telemetry) resolve(o TelemetryOverride) TelemetrySettings {
	s := TelemetrySettings{
		Enabled:      t.Enabled,
		OTLPEndpoint: t.OTLPEndpoint,
		ServiceName:  t.ServiceName,
		SamplingRate: t.SamplingRate,
	}
	if o.Enabled != nil {
		s.Enabled = *o.Enabled
	}
	if o.OTLPEndpoint != "" {
		s.OTLPEndpoint = o.OTLPEndpoint
	}
	if o.ServiceName != "" {
		s.ServiceName = o.ServiceName
	}
	if o.SamplingRate != nil {
		s.SamplingRate = *o.SamplingRate
	}
	return s
}
