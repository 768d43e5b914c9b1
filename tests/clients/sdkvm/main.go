// SPDX-License-Identifier: Apache-2.0
//
// sdkvm: firecracker-go-sdk, unchanged, drives ember as it drives
// Firecracker. One microVM through the SDK's own paths: NewMachine with a
// VMCommandBuilder whose binary is ember, Start (its default handlers: the
// API socket, log and metrics FIFOs, PUT /logger, /metrics, /machine-config,
// /boot-source, /drives, /network-interfaces, /mmds/config, /mmds,
// InstanceStart), then GET /, /version, /vm/config, /mmds, PATCH /mmds,
// PATCH /drives, FlushMetrics, pause and resume, and Shutdown
// (SendCtrlAltDel) with Wait. The guest (ember.test=sdk:ADDR/PREFIX)
// configures eth0, serves a line over TCP and prints a tick every 200 ms.
//
// Prints "ok NAME" or "FAIL NAME: why" per check and exits 1 if any failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	firecracker "github.com/firecracker-microvm/firecracker-go-sdk"
	"github.com/firecracker-microvm/firecracker-go-sdk/client/models"
	"github.com/sirupsen/logrus"
)

var (
	failed int
	prefix string // the case's name, before each check's
)

func ok(name string) { fmt.Printf("ok %s%s\n", prefix, name) }
func fail(name, f string, a ...interface{}) {
	failed++
	fmt.Printf("FAIL %s%s: %s\n", prefix, name, fmt.Sprintf(f, a...))
}

func check(name string, cond bool, f string, a ...interface{}) bool {
	if cond {
		ok(name)
	} else {
		fail(name, f, a...)
	}
	return cond
}

// console keeps the guest's serial output (ember's standard output) and
// lets a caller wait for a line.
type console struct {
	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
	done  bool
	raw   io.Writer
}

func newConsole(r io.Reader, raw io.Writer) *console {
	c := &console{raw: raw}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			fmt.Fprintln(c.raw, line)
			c.mu.Lock()
			c.lines = append(c.lines, line)
			c.cond.Broadcast()
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.done = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	return c
}

// wait returns the first line from index from on that matches re, and the
// index after it, or "" when the timeout passes or the output ends.
func (c *console) wait(re *regexp.Regexp, from int, tmo time.Duration) (string, int) {
	deadline := time.Now().Add(tmo)
	t := time.AfterFunc(tmo, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer t.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; ; {
		for ; i < len(c.lines); i++ {
			if re.MatchString(c.lines[i]) {
				return c.lines[i], i + 1
			}
		}
		if c.done || time.Now().After(deadline) {
			return "", i
		}
		c.cond.Wait()
	}
}

func (c *console) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *console) count(re *regexp.Regexp) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

// lockedBuffer is the FifoLogWriter: the SDK copies the log FIFO into it
// from its own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func main() {
	ember := flag.String("ember", "build/ember", "the VMM binary (FirecrackerBinary)")
	kernel := flag.String("kernel", "build/guest/vmlinux", "guest kernel")
	rootfs := flag.String("rootfs", "", "root drive (a copy: the guest may write it)")
	scratch := flag.String("scratch", "", "a second drive, replaced by -scratch2 after boot (PATCH /drives)")
	scratch2 := flag.String("scratch2", "", "the second drive's new backing file")
	tap := flag.String("tap", "tap0", "host TAP device")
	mac := flag.String("mac", "02:fc:00:00:00:05", "guest MAC")
	guest := flag.String("guest", "169.254.100.2/24", "guest address/prefix")
	dir := flag.String("dir", "", "directory for the socket, FIFOs and logs")
	bootTmo := flag.Duration("boot-timeout", 60*time.Second, "time for the guest to come up")
	jailer := flag.String("jailer", "", "run ember through this jailer (the SDK's JailerCfg); "+
		"the kernel and drives must be on the file system of -dir (the SDK hard-links them into the jail)")
	uid := flag.Int("uid", 1000, "the jailed ember's uid")
	gid := flag.Int("gid", 1000, "the jailed ember's gid")
	cgv := flag.String("cgroup-version", "2", "the jailer's cgroup version")
	name := flag.String("case", "", "a name put before every check's")
	flag.Parse()
	if *name != "" {
		prefix = *name + "/"
	}
	if *rootfs == "" || *scratch == "" || *scratch2 == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "sdkvm: -rootfs, -scratch, -scratch2 and -dir are required")
		os.Exit(2)
	}
	guestIP, _, err := net.ParseCIDR(*guest)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sdkvm: -guest %q: %v\n", *guest, err)
		os.Exit(2)
	}
	var jail *firecracker.JailerConfig
	if *jailer != "" {
		jail = &firecracker.JailerConfig{
			JailerBinary:   *jailer,
			ExecFile:       *ember,
			ID:             fmt.Sprintf("sdk-jailed-%d", os.Getpid()),
			UID:            uid,
			GID:            gid,
			NumaNode:       firecracker.Int(0),
			ChrootBaseDir:  filepath.Join(*dir, "jail"),
			CgroupVersion:  *cgv,
			ChrootStrategy: firecracker.NewNaiveChrootStrategy(*kernel),
		}
	}
	os.Exit(run(*ember, *kernel, *rootfs, *scratch, *scratch2, *tap, *mac, *guest, guestIP.String(), *dir, *bootTmo, jail))
}

func run(ember, kernel, rootfs, scratch, scratch2, tap, mac, guestCIDR, guestIP, dir string,
	bootTmo time.Duration, jail *firecracker.JailerConfig) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sock := filepath.Join(dir, "ember.sock")
	logFifo := filepath.Join(dir, "log.fifo")
	metricsFifo := filepath.Join(dir, "metrics.fifo")
	vmid := "sdk-vm-1"
	vmLog := &lockedBuffer{}
	// ember's log, as far as it came, for the logs of a failed run.
	defer func() { os.WriteFile(filepath.Join(dir, "vmm.log"), []byte(vmLog.String()), 0644) }()

	sdkLog := logrus.New()
	sdkLog.SetLevel(logrus.DebugLevel)
	sdkLogFile, err := os.Create(filepath.Join(dir, "sdk.log"))
	if err != nil {
		fail("setup", "%v", err)
		return 1
	}
	defer sdkLogFile.Close()
	sdkLog.SetOutput(sdkLogFile)

	consoleFile, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		fail("setup", "%v", err)
		return 1
	}
	defer consoleFile.Close()
	stdoutR, stdoutW := io.Pipe()
	con := newConsole(stdoutR, consoleFile)

	metadata := map[string]interface{}{
		"latest": map[string]interface{}{"meta-data": map[string]interface{}{"instance-id": "i-sdk", "zone": "z1"}},
	}
	cfg := firecracker.Config{
		SocketPath:      sock,
		LogFifo:         logFifo,
		LogLevel:        "Debug",
		MetricsFifo:     metricsFifo,
		FifoLogWriter:   vmLog,
		KernelImagePath: kernel,
		KernelArgs:      "console=ttyS0 reboot=k panic=1 ember.test=sdk:" + guestCIDR,
		Drives: firecracker.NewDrivesBuilder(rootfs).
			AddDrive(scratch, false).Build(),
		NetworkInterfaces: firecracker.NetworkInterfaces{{
			StaticConfiguration: &firecracker.StaticNetworkConfiguration{MacAddress: mac, HostDevName: tap},
			AllowMMDS:           true,
		}},
		MmdsVersion: firecracker.MMDSv2,
		MachineCfg: models.MachineConfiguration{
			VcpuCount:  firecracker.Int64(2),
			MemSizeMib: firecracker.Int64(256),
			Smt:        firecracker.Bool(false),
		},
		VMID:    vmid,
		Seccomp: firecracker.SeccompConfig{Enabled: true},
	}
	opts := []firecracker.Opt{firecracker.WithLogger(logrus.NewEntry(sdkLog))}
	if jail != nil {
		// The base directory must exist, as for Firecracker's jailer
		// (which canonicalizes it).
		if err := os.MkdirAll(jail.ChrootBaseDir, 0755); err != nil {
			fail("setup", "%v", err)
			return 1
		}
		// The SDK builds the jailer's command line (--id --uid --gid
		// --exec-file --cgroup cpuset.* --cgroup-version --chroot-base-dir
		// -- --api-sock /run/firecracker.socket) and hard-links the kernel,
		// drives and FIFOs into the jail.
		vmid = jail.ID
		cfg.VMID = vmid
		cfg.SocketPath = ""
		jail.Stdin = bytes.NewReader(nil)
		jail.Stdout = stdoutW
		jail.Stderr = vmLogStderr(dir)
		cfg.JailerCfg = jail
	} else {
		// As firectl does for --firecracker-binary: the SDK's command
		// builder with another binary, the arguments NewMachine gives its
		// own.
		cmd := firecracker.VMCommandBuilder{}.
			WithBin(ember).
			WithSocketPath(sock).
			AddArgs("--id", vmid).
			WithStdin(bytes.NewReader(nil)).
			WithStdout(stdoutW).
			WithStderr(vmLogStderr(dir)).
			Build(ctx)
		opts = append(opts, firecracker.WithProcessRunner(cmd))
	}
	m, err := firecracker.NewMachine(ctx, cfg, opts...)
	if err != nil {
		fail("new-machine", "%v", err)
		return 1
	}
	sock = m.Cfg.SocketPath
	// In a jail, the SDK's start-up gives ember paths inside it.
	jailRoot := ""
	if jail != nil {
		jailRoot = filepath.Join(jail.ChrootBaseDir, filepath.Base(ember), jail.ID, "root")
	}
	m.Handlers.FcInit = m.Handlers.FcInit.Append(firecracker.NewSetMetadataHandler(metadata))
	ok("new-machine")

	t0 := time.Now()
	if err := m.Start(ctx); err != nil {
		fail("start", "Machine.Start: %v (sdk.log, console.log in %s)", err, dir)
		m.StopVMM()
		return 1
	}
	ok("start")
	// The process ends: the console reader sees the end of its output.
	go func() { m.Wait(context.Background()); stdoutW.Close() }()
	stopped := false
	defer func() {
		if !stopped {
			m.StopVMM()
		}
	}()

	up := regexp.MustCompile(`^EMBER-NET-UP `)
	line, next := con.wait(up, 0, bootTmo)
	if !check("guest-up", line != "", "no EMBER-NET-UP within %v%s", bootTmo, vmmError(dir, vmLog)) {
		return 1
	}
	fmt.Printf("guest up after %.2f s: %s\n", time.Since(t0).Seconds(), line)
	check("guest-mac", strings.Fields(line)[1] == mac && strings.Fields(line)[2] == guestCIDR,
		"the guest has %q, not MAC %s address %s", line, mac, guestCIDR)
	tick := regexp.MustCompile(`^EMBER-TICK [0-9]+$`)
	if line, _ = con.wait(tick, next, 20*time.Second); !check("guest-ticks", line != "", "no EMBER-TICK line") {
		return 1
	}

	// The guest's eth0 through the TAP: a TCP connection to its server.
	served := ""
	var derr error
	for i := 0; i < 50 && served == ""; i++ {
		var c net.Conn
		c, derr = net.DialTimeout("tcp", net.JoinHostPort(guestIP, "5000"), 2*time.Second)
		if derr == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			served = strings.TrimSpace(b)
		}
		if served == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	check("guest-tcp", served == "EMBER-SERVED cpus=2", "TCP to %s:5000 read %q (last error %v)", guestIP, served, derr)

	client := firecracker.NewClient(sock, logrus.NewEntry(sdkLog), false)

	info, err := m.DescribeInstanceInfo(ctx)
	if check("describe-instance", err == nil, "GET /: %v", err) {
		check("instance-info", info.State != nil && *info.State == "Running" && info.ID != nil &&
			*info.ID == vmid && info.AppName != nil && *info.AppName != "" && info.VmmVersion != nil,
			"GET / gave %s", jsonText(info))
	}
	ver, err := m.GetFirecrackerVersion(ctx)
	check("version", err == nil && ver != "", "GET /version: %q, %v", ver, err)

	vc, err := client.GetExportVMConfig()
	if check("vm-config", err == nil, "GET /vm/config: %v", err) {
		// The SDK rewrites the kernel arguments (their order) before it
		// sends them: compare with what it sent.
		checkVMConfig(vc.Payload, &m.Cfg, tap, mac)
	}

	var md map[string]interface{}
	err = m.GetMetadata(ctx, &md)
	check("mmds-get", err == nil && jsonText(md) == jsonText(metadata), "GET /mmds: %s, %v", jsonText(md), err)
	err = m.UpdateMetadata(ctx, map[string]interface{}{"latest": map[string]interface{}{"meta-data": map[string]interface{}{"zone": nil, "role": "web"}}})
	md = nil
	if e2 := m.GetMetadata(ctx, &md); err == nil {
		err = e2
	}
	want := `{"latest":{"meta-data":{"instance-id":"i-sdk","role":"web"}}}`
	check("mmds-patch", err == nil && jsonText(md) == want, "PATCH /mmds then GET: %s, %v; want %s", jsonText(md), err, want)

	// The second drive's id is the SDK's (DrivesBuilder numbers them).
	scratchID := ""
	for _, d := range cfg.Drives {
		if d.IsRootDevice != nil && !*d.IsRootDevice {
			scratchID = firecracker.StringValue(d.DriveID)
		}
	}
	newPath := scratch2
	if jail != nil {
		// A new backing file for a jailed ember: inside the jail.
		newPath = filepath.Base(scratch2)
		if err := os.Link(scratch2, filepath.Join(jailRoot, newPath)); err != nil {
			fail("drive-link", "%v", err)
		}
	}
	err = m.UpdateGuestDrive(ctx, scratchID, newPath)
	if check("drive-patch", err == nil, "PATCH /drives/%s: %v", scratchID, err) {
		vc, err = client.GetExportVMConfig()
		got := ""
		if err == nil {
			for _, d := range vc.Payload.Drives {
				if d.DriveID != nil && *d.DriveID == scratchID && d.PathOnHost != nil {
					got = *d.PathOnHost
				}
			}
		}
		check("drive-patched", got == newPath, "GET /vm/config after PATCH: drive %s on %q, want %q (%v)", scratchID, got, newPath, err)
	}

	checkMetrics(ctx, client, metricsFifo)

	// Pause: no tick for a second (after a grace for a line in flight).
	if err := m.PauseVM(ctx); check("pause", err == nil, "PATCH /vm Paused: %v", err) {
		info, err = m.DescribeInstanceInfo(ctx)
		check("paused-state", err == nil && info.State != nil && *info.State == "Paused", "GET / after pause: %s %v", jsonText(info), err)
		time.Sleep(500 * time.Millisecond)
		before := con.count(tick)
		time.Sleep(1500 * time.Millisecond)
		after := con.count(tick)
		check("paused-silent", after == before, "%d ticks while paused", after-before)
		err = m.ResumeVM(ctx)
		if check("resume", err == nil, "PATCH /vm Resumed: %v", err) {
			info, err = m.DescribeInstanceInfo(ctx)
			check("resumed-state", err == nil && info.State != nil && *info.State == "Running", "GET / after resume: %s %v", jsonText(info), err)
			line, _ = con.wait(tick, con.len(), 10*time.Second)
			check("resumed-ticks", line != "", "no tick within 10 s of resuming")
		}
	}

	// The SDK's shutdown path: SendCtrlAltDel; the guest reboots and ember
	// exits 0, which Wait reports as nil.
	err = m.Shutdown(ctx)
	check("shutdown", err == nil, "SendCtrlAltDel: %v", err)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = m.Wait(wctx)
	wcancel()
	stopped = err != context.DeadlineExceeded
	check("exit-0", err == nil, "Machine.Wait: %v", err)
	_, serr := os.Stat(sock)
	check("socket-removed", os.IsNotExist(serr), "%s still there after the exit (%v)", sock, serr)

	// The log FIFO reached the SDK's FifoLogWriter (its copy ends with the
	// process).
	time.Sleep(200 * time.Millisecond)
	logText := vmLog.String()
	check("log-fifo", strings.Contains(logText, "InstanceStart") || strings.Contains(logText, "Running"),
		"the log FIFO gave %d bytes without the start (vmm.log in %s)", len(logText), dir)

	if failed > 0 {
		return 1
	}
	return 0
}

// vmmError: why ember ended, for a failure's line (a guest triple fault
// there is a known failure of the nested test host that tests/nested/level.sh
// runs again): its last error in the log FIFO, else on its standard error.
func vmmError(dir string, vmLog *lockedBuffer) string {
	last := ""
	for _, l := range strings.Split(vmLog.String(), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "triple fault") {
			last = l
		}
	}
	if last == "" {
		b, _ := os.ReadFile(filepath.Join(dir, "stderr.log"))
		if t := strings.TrimSpace(string(b)); t != "" {
			ls := strings.Split(t, "\n")
			last = ls[len(ls)-1]
		}
	}
	if last == "" {
		return ""
	}
	return "; ember: " + strings.TrimSpace(last)
}

// ember's standard error (its one-line errors) goes to a file.
func vmLogStderr(dir string) io.Writer {
	f, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return os.Stderr
	}
	return f
}

func jsonText(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

// checkVMConfig compares GET /vm/config with what the SDK sent (its Cfg
// after Start: it rewrites the kernel arguments, and a jail's paths).
func checkVMConfig(c *models.FullVMConfiguration, sent *firecracker.Config, tap, mac string) {
	var why []string
	kernel, args := sent.KernelImagePath, sent.KernelArgs
	rootfs, scratch := "", ""
	for _, d := range sent.Drives {
		if firecracker.BoolValue(d.IsRootDevice) {
			rootfs = firecracker.StringValue(d.PathOnHost)
		} else {
			scratch = firecracker.StringValue(d.PathOnHost)
		}
	}
	mc := c.MachineConfig
	if mc == nil || mc.VcpuCount == nil || *mc.VcpuCount != 2 || mc.MemSizeMib == nil || *mc.MemSizeMib != 256 {
		why = append(why, "machine-config "+jsonText(mc))
	}
	bs := c.BootSource
	if bs == nil || bs.KernelImagePath == nil || *bs.KernelImagePath != kernel || bs.BootArgs != args {
		why = append(why, "boot-source "+jsonText(bs))
	}
	// Firecracker's order: the root drive first, although the SDK puts it last.
	if len(c.Drives) != 2 || c.Drives[0].DriveID == nil || *c.Drives[0].DriveID != "root_drive" ||
		c.Drives[0].IsRootDevice == nil || !*c.Drives[0].IsRootDevice ||
		c.Drives[0].PathOnHost == nil || *c.Drives[0].PathOnHost != rootfs ||
		c.Drives[1].PathOnHost == nil || *c.Drives[1].PathOnHost != scratch {
		why = append(why, "drives "+jsonText(c.Drives))
	}
	if len(c.NetworkInterfaces) != 1 || c.NetworkInterfaces[0].HostDevName == nil ||
		*c.NetworkInterfaces[0].HostDevName != tap || c.NetworkInterfaces[0].GuestMac != mac {
		why = append(why, "network-interfaces "+jsonText(c.NetworkInterfaces))
	}
	if c.MmdsConfig == nil || len(c.MmdsConfig.NetworkInterfaces) != 1 {
		why = append(why, "mmds-config "+jsonText(c.MmdsConfig))
	}
	check("vm-config-content", len(why) == 0, "GET /vm/config differs from what the SDK put: %s", strings.Join(why, "; "))
}

// FlushMetrics (the generated client's action) writes a line to the
// metrics FIFO the SDK made.
func checkMetrics(ctx context.Context, client *firecracker.Client, fifo string) {
	f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if !check("metrics-fifo", err == nil, "open %s: %v", fifo, err) {
		return
	}
	defer f.Close()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 256<<10), 4<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	action := models.InstanceActionInfoActionTypeFlushMetrics
	_, err = client.CreateSyncAction(ctx, &models.InstanceActionInfo{ActionType: &action})
	if !check("flush-metrics", err == nil, "FlushMetrics: %v", err) {
		return
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, more := <-lines:
			var v map[string]interface{}
			if more && json.Unmarshal([]byte(l), &v) == nil && v["utc_timestamp_ms"] != nil && v["api_server"] != nil {
				ok("metrics-line")
				return
			}
			if !more {
				fail("metrics-line", "the metrics FIFO ended")
				return
			}
		case <-deadline:
			fail("metrics-line", "no metrics line within 10 s of FlushMetrics")
			return
		}
	}
}
