package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Targets of the subprocess figures.
const (
	idleCPUTarget   = 10 * time.Millisecond // per minute idle
	idleRSSTarget   = 20 << 20              // bytes
	loadRSSTarget   = 40 << 20              // bytes
	startupTarget   = 50 * time.Millisecond
	clockTicksPerS  = 100 // USER_HZ: the unit of utime and stime in /proc/PID/stat
	loadConnections = 24  // within the daemon's limit of 32 (8 per origin)
)

// daemonBinary returns the cardbridge binary to measure, building it into a
// temporary directory unless path names one.
func daemonBinary(ctx context.Context, path string) (string, func(), error) {
	if path != "" {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "cardbridge-bench-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "cardbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cardbridge")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building cardbridge (run the bench from the repository root): %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// daemon is a "cardbridge run" subprocess.
type daemon struct {
	cmd     *exec.Cmd
	started time.Time // just before fork and exec
	url     string
	port    int
	out     *syncBuffer
	cfgDir  string
	exited  chan struct{}
}

// loadOrigins are the origins the subprocess pre-allows: the load test
// spreads its pages over them to stay within the per-origin limit.
func loadOrigins() []string {
	return []string{benchOrigin, "https://bench2.example", "https://bench3.example", "https://bench4.example"}
}

// startDaemon starts "cardbridge run" on a free loopback port, with a
// configuration directory of its own and the deny prompter: nothing the
// bench does needs a dialog.
func startDaemon(bin string) (*daemon, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgDir, err := os.MkdirTemp("", "cardbridge-bench-config-")
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--port", strconv.Itoa(port), "--prompter", "deny", "--log-level", "warn"}
	for _, o := range loadOrigins() {
		args = append(args, "--allow-origin", o)
	}
	cmd := exec.Command(bin, args...)
	env := []string{"XDG_CONFIG_HOME=" + cfgDir, "HOME=" + cfgDir}
	for _, kv := range os.Environ() {
		// No desktop: the daemon must not try native dialogs.
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") &&
			!strings.HasPrefix(kv, "XDG_CONFIG_HOME=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(cfgDir)
		return nil, err
	}
	d := &daemon{cmd: cmd, started: started, port: port, url: "ws://127.0.0.1:" + strconv.Itoa(port) + "/v1", out: out, cfgDir: cfgDir, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(d.exited) }()
	return d, nil
}

// waitReady dials until the daemon accepts a WebSocket handshake and
// returns when that first succeeded.
func (d *daemon) waitReady(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		c, err := dial(ctx, d.url, benchOrigin)
		if err == nil {
			t := time.Now()
			c.close()
			return t, nil
		}
		select {
		case <-d.exited:
			return time.Time{}, fmt.Errorf("cardbridge run exited: %s", d.out.String())
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("cardbridge run never accepted a connection: %v; output: %s", err, d.out.String())
		case <-time.After(200 * time.Microsecond):
		}
	}
}

// stop ends the daemon with SIGTERM, as a service manager would.
func (d *daemon) stop() error {
	defer os.RemoveAll(d.cfgDir)
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		return errors.New("cardbridge run ignored SIGTERM for 10 s")
	}
	if st := d.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("cardbridge run exited with %v; output: %s", st, d.out.String())
	}
	return nil
}

// benchDaemon measures (d) and (e) on a "cardbridge run" subprocess.
func benchDaemon(ctx context.Context, o options, bin string, r *report) error {
	d, err := startDaemon(bin)
	if err != nil {
		return err
	}
	defer d.stop()
	if _, err := d.waitReady(ctx); err != nil {
		return err
	}
	pid := d.cmd.Process.Pid

	// A portal page waiting for the card: subscribed to reader events,
	// with the card inserted, nothing else happening.
	page, err := dial(ctx, d.url, benchOrigin)
	if err != nil {
		return err
	}
	defer page.close()
	if _, err := page.call("readers"); err != nil {
		return err
	}
	// Keep reading, so that the daemon's keepalive pings are answered.
	go func() {
		for {
			if _, _, err := page.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second) // let start-up work settle
	before, err := cpuOf(pid)
	if err != nil {
		return err
	}
	select {
	case <-time.After(o.idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := cpuOf(pid)
	if err != nil {
		return err
	}
	perMin := func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * float64(time.Minute) / float64(o.idle))
	}
	precise := perMin(after.exec - before.exec)
	ticks := perMin(after.ticks - before.ticks)
	r.figure(fmt.Sprintf("(d) idle CPU, page subscribed, card in (%v window)", o.idle),
		"≤ "+short(idleCPUTarget)+"/min", fmt.Sprintf("%s/min", ms(precise)), precise <= idleCPUTarget)
	r.note("scheduler run time of all threads (/proc/PID/task/*/schedstat); utime+stime from /proc/PID/stat: %s/min (10 ms ticks)", ms(ticks))

	idleRSS, err := rssOf(pid)
	if err != nil {
		return err
	}
	r.figure("(e) resident memory, idle", "≤ "+mb(idleRSSTarget), mb(idleRSS), idleRSS <= idleRSSTarget)

	peak, answered, err := loadRSS(ctx, d, pid, o)
	if err != nil {
		return err
	}
	r.figure(fmt.Sprintf("(e) resident memory, peak under load (%d pages)", loadConnections), "≤ "+mb(loadRSSTarget), mb(peak), peak <= loadRSSTarget)
	r.note("%d requests answered (readers, version, identity, photo; RATE_LIMITED included) from pages pre-allowed with --allow-origin", answered)
	return nil
}

// loadRSS has loadConnections pages send requests as fast as they are
// answered, and samples the daemon's resident memory meanwhile.
func loadRSS(ctx context.Context, d *daemon, pid int, o options) (peak int64, answered int64, err error) {
	dur := 5 * time.Second
	if o.short {
		dur = 2 * time.Second
	}
	origins := loadOrigins()
	var clients []*wsClient
	for i := range loadConnections {
		c, err := dial(ctx, d.url, origins[i%len(origins)])
		if err != nil {
			return 0, 0, fmt.Errorf("page %d: %w", i, err)
		}
		defer c.close()
		clients = append(clients, c)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			methods := []string{"readers", "version", "identity", "photo"}
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.call(methods[(i+j)%len(methods)])
				var re *rpcError
				if err != nil && !errors.As(err, &re) {
					return
				}
				n.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		if rss, err := rssOf(pid); err == nil {
			peak = max(peak, rss)
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	return peak, n.Load(), nil
}

// benchStartup measures (f): from exec to the first accepted WebSocket
// handshake, the median of several starts.
func benchStartup(ctx context.Context, o options, bin string, r *report) error {
	var ds []time.Duration
	for range o.starts {
		d, err := startDaemon(bin)
		if err != nil {
			return err
		}
		ready, err := d.waitReady(ctx)
		stopErr := d.stop()
		if err != nil {
			return err
		}
		if stopErr != nil {
			return stopErr
		}
		ds = append(ds, ready.Sub(d.started))
	}
	m := median(ds)
	r.figure(fmt.Sprintf("(f) start-up, exec to first WebSocket handshake (median of %d)", len(ds)),
		"≤ "+short(startupTarget), ms(m), m <= startupTarget)
	r.note("min %s, max %s", ms(percentile(ds, 0.001)), ms(percentile(ds, 100)))
	return nil
}

// cpu is a process's CPU time so far.
type cpu struct {
	exec  time.Duration // sum of its threads' run time, ns precision
	ticks time.Duration // utime+stime, in clock ticks
}

func cpuOf(pid int) (cpu, error) {
	var c cpu
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, err
	}
	utime, stime, err := parseStatTimes(string(stat))
	if err != nil {
		return c, err
	}
	c.ticks = time.Duration(utime+stime) * time.Second / clockTicksPerS
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return c, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread just exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return c, fmt.Errorf("schedstat %q: %w", b, err)
		}
		c.exec += time.Duration(ns)
	}
	return c, nil
}

// parseStatTimes returns utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name, field 2, is in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ")".
func parseStatTimes(stat string) (utime, stime int64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("malformed stat line %q", stat)
	}
	if utime, err = strconv.ParseInt(f[11], 10, 64); err != nil {
		return 0, 0, err
	}
	if stime, err = strconv.ParseInt(f[12], 10, 64); err != nil {
		return 0, 0, err
	}
	return utime, stime, nil
}

// rssOf returns VmRSS of a process, in bytes.
func rssOf(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("malformed VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects a subprocess's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
