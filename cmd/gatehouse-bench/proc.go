package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (proc(5)). sysconf(_SC_CLK_TCK) is 100 on every Linux architecture Go
// supports, and reading it would need cgo, so the tool assumes 100.
const clockTicks = 100

// procReader reads /proc-style files; tests pass an fstest.MapFS.
type procReader struct {
	fsys fs.FS // rooted at /proc
}

func osProc() procReader { return procReader{fsys: os.DirFS("/proc")} }

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	PID    string
	Ticks  uint64 // utime + stime, in clockTicks
	RSSKiB uint64
	Err    error
}

// sample reads /proc/PID/stat and /proc/PID/status; pid may be "self".
func (p procReader) sample(pid string) procSample {
	s := procSample{PID: pid}
	stat, err := fs.ReadFile(p.fsys, path.Join(pid, "stat"))
	if err != nil {
		s.Err = err
		return s
	}
	if s.Ticks, err = parseStatTicks(stat); err != nil {
		s.Err = fmt.Errorf("/proc/%s/stat: %w", pid, err)
		return s
	}
	status, err := fs.ReadFile(p.fsys, path.Join(pid, "status"))
	if err != nil {
		s.Err = err
		return s
	}
	if s.RSSKiB, err = parseVmRSS(status); err != nil {
		s.Err = fmt.Errorf("/proc/%s/status: %w", pid, err)
	}
	return s
}

// parseStatTicks returns utime+stime, fields 14 and 15 of /proc/PID/stat.
// The command name (field 2) is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func parseStatTicks(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name; want at least 13", len(f))
	}
	utime, err1 := strconv.ParseUint(f[14-3], 10, 64)
	stime, err2 := strconv.ParseUint(f[15-3], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q stime %q: not numbers", f[14-3], f[15-3])
	}
	return utime + stime, nil
}

// parseVmRSS returns the VmRSS line of /proc/PID/status in KiB.
func parseVmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS %q: want \"N kB\"", rest)
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// procSamples holds the server's and this process's readings.
type procSamples struct {
	server, self *procSample
}

func sampleProcs(p procReader, serverPID int) procSamples {
	self := p.sample("self")
	self.PID = strconv.Itoa(os.Getpid())
	s := procSamples{self: &self}
	if serverPID > 0 {
		srv := p.sample(strconv.Itoa(serverPID))
		s.server = &srv
	}
	return s
}

// procDelta is a process's cost over the measured phase.
type procDelta struct {
	PID                 string  `json:"pid"`
	CPUSeconds          float64 `json:"cpu_seconds"`
	CPUPerRequestMicros float64 `json:"cpu_per_ok_request_us"` // CPU time per issued token
	RSSBeforeKiB        uint64  `json:"rss_before_kib"`
	RSSAfterKiB         uint64  `json:"rss_after_kib"`
	ClockTicksPerSecond int     `json:"clock_ticks_per_second"`
	Error               string  `json:"error,omitempty"`
}

func procStats(before, after procSamples, ok int) (server, client *procDelta) {
	return delta(before.server, after.server, ok), delta(before.self, after.self, ok)
}

func delta(before, after *procSample, ok int) *procDelta {
	if before == nil || after == nil {
		return nil
	}
	d := &procDelta{PID: before.PID, ClockTicksPerSecond: clockTicks}
	if err := cmpErr(before.Err, after.Err); err != nil {
		d.Error = err.Error()
		return d
	}
	d.CPUSeconds = float64(after.Ticks-before.Ticks) / clockTicks
	if ok > 0 {
		d.CPUPerRequestMicros = d.CPUSeconds * 1e6 / float64(ok)
	}
	d.RSSBeforeKiB, d.RSSAfterKiB = before.RSSKiB, after.RSSKiB
	return d
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
