package kube

import (
	"context"
	"errors"
	"math"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/brokkr/brokkr/agent/internal/backoff"
)

// Backoff is an exponential retry schedule.
type Backoff struct {
	Initial    time.Duration // first wait (1 s)
	Multiplier float64       // growth per attempt (2)
	Max        time.Duration // longest single wait (60 s)
	MaxElapsed time.Duration // give up after this much time in all (300 s); 0 = one attempt
}

// DefaultBackoff is the schedule of the reference agent: 1 s doubling to 60 s, for at most
// 5 minutes.
var DefaultBackoff = Backoff{Initial: time.Second, Multiplier: 2, Max: time.Minute, MaxElapsed: 5 * time.Minute}

// OrDefault returns b, or DefaultBackoff when b is zero.
func (b Backoff) OrDefault() Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	return b
}

// schedule is b's sequence of waits, without jitter: Initial growing by Multiplier (when it
// is more than 1) up to Max (when set).
func (b Backoff) schedule() wait.Backoff {
	s := wait.Backoff{Duration: b.Initial, Cap: b.Max, Steps: math.MaxInt32}
	if b.Multiplier > 1 {
		s.Factor = b.Multiplier
	}
	return s
}

// Retryable reports whether err is a transient apiserver or network failure worth another
// attempt: HTTP 429, 500, 503 and 504, the reasons ServiceUnavailable, InternalError,
// Timeout, ServerTimeout and TooManyRequests, and network errors.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		switch s.Code {
		case 429, 500, 503, 504:
			return true
		}
		switch s.Reason {
		case metav1.StatusReasonServiceUnavailable, metav1.StatusReasonInternalError, metav1.StatusReasonTimeout,
			metav1.StatusReasonServerTimeout, metav1.StatusReasonTooManyRequests:
			return true
		}
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr)
}

// Retry calls fn until it succeeds, fails with an error that is not Retryable, the schedule
// is exhausted or ctx ends. It returns fn's last error. The waits follow b with ±10 % jitter,
// so that replicas of a failing request spread out, and are at least what the server asks
// for in Retry-After (up to b.Max); a wait that would end after b.MaxElapsed is not begun.
func Retry(ctx context.Context, b Backoff, fn func(context.Context) error) error {
	deadline := time.Now().Add(b.MaxElapsed)
	schedule := b.schedule()
	var (
		err  error
		next time.Duration
	)
	_ = wait.DelayFunc(func() time.Duration { return next }).Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		if err = fn(ctx); err == nil || !Retryable(err) {
			return true, nil
		}
		if s, ok := apierrors.SuggestsClientDelay(err); ok {
			schedule.Duration = max(schedule.Duration, time.Duration(s)*time.Second)
		}
		next = schedule.Step()
		if b.Max > 0 {
			next = min(next, b.Max)
		}
		next = backoff.Spread(next, 0.1)
		return time.Until(deadline) < next, nil
	})
	return err
}
