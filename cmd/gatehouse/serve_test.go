package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that serve's goroutines may write to while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningServe is `gatehouse serve` running in-process.
type runningServe struct {
	stdout, stderr *syncBuffer
	// addrs maps "token service" and "admin API" to their listen
	// addresses, read from the JSON log.
	addrs map[string]string
	stop  func() error
}

// startServe runs `gatehouse serve args...` with environ (which must set
// GATEHOUSE_LOG_FORMAT=json) until the test ends or stop is called, and
// waits until every listener has logged its address.
func startServe(t *testing.T, environ []string, listeners int, args ...string) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServe{stdout: &syncBuffer{}, stderr: &syncBuffer{}, addrs: map[string]string{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), environ, nil, rs.stdout, rs.stderr) }()
	var once sync.Once
	var stopErr error
	rs.stop = func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
		})
		return stopErr
	}
	t.Cleanup(func() { rs.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for len(rs.addrs) < listeners {
		select {
		case err := <-done:
			t.Fatalf("gatehouse serve %v stopped: %v\nstderr:\n%s", args, err, rs.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse serve %v: no listener logged\nstderr:\n%s", args, rs.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
		sc := bufio.NewScanner(strings.NewReader(rs.stderr.String()))
		for sc.Scan() {
			var line struct{ Msg, Serves, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "gatehouse listening" {
				rs.addrs[line.Serves] = line.Addr
			}
		}
	}
	return rs
}
