package kube

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
// is exhausted or ctx ends. It returns fn's last error.
func Retry(ctx context.Context, b Backoff, fn func(context.Context) error) error {
	start := time.Now()
	wait := b.Initial
	for {
		err := fn(ctx)
		if err == nil || !Retryable(err) {
			return err
		}
		// Honour the server's Retry-After when it says more than the schedule.
		if s, ok := apierrors.SuggestsClientDelay(err); ok && time.Duration(s)*time.Second > wait {
			wait = time.Duration(s) * time.Second
		}
		if b.Max > 0 && wait > b.Max {
			wait = b.Max
		}
		// ±10 % jitter so replicas of a failing request spread out.
		d := time.Duration(float64(wait) * (0.9 + 0.2*rand.Float64()))
		if time.Since(start)+d > b.MaxElapsed {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if b.Multiplier > 1 {
			wait = time.Duration(float64(wait) * b.Multiplier)
		}
	}
}
