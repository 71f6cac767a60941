// Go, written idiomatically: goroutines with sync.WaitGroup, and the
// errgroup-with-context pattern written out (no module downloads here).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var quick = os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"

func scale(n int) int {
	if quick {
		return n / 10
	}
	return n
}

func emit(bench string, v float64, unit string) {
	b, _ := json.Marshal(map[string]interface{}{"bench": bench, "system": "go", "value": float64(int64(v*1000)) / 1000, "unit": unit})
	fmt.Println(string(b))
}

func rss() int64 {
	b, _ := os.ReadFile("/proc/self/statm")
	var pages, res int64
	fmt.Sscan(strings.TrimSpace(string(b)), &pages, &res)
	return res * 4096
}

// group is errgroup.WithContext written out: the first error cancels ctx.
type group struct {
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	cancel context.CancelFunc
}

func withContext(ctx context.Context) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{cancel: cancel}, ctx
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	}()
}

func (g *group) Wait() error { g.wg.Wait(); g.cancel(); return g.err }

func benchSwitch() {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	half := scale(10_000_000) / 2
	var wg sync.WaitGroup
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < half; i++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	emit("switch", float64(time.Since(t0).Nanoseconds())/float64(2*half), "ns")
}

func benchSpawnJoin() {
	n := scale(1_000_000)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	emit("spawn_join", float64(time.Since(t0).Nanoseconds())/float64(n), "ns")
}

func benchGather() {
	n := scale(1_000_000)
	res := make([]int, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) { res[i] = i; wg.Done() }(i)
	}
	wg.Wait()
	emit("gather", float64(time.Since(t0).Nanoseconds())/float64(n), "ns")
}

func benchTimers() {
	n := scale(100_000)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { time.Sleep(10 * time.Millisecond); wg.Done() }()
	}
	wg.Wait()
	emit("timers", float64(time.Since(t0).Nanoseconds())/1e6-10, "ms")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func benchFailFast() {
	n := scale(100_000)
	g, ctx := withContext(context.Background())
	var tFail time.Time
	for i := 0; i < n; i++ {
		g.Go(func() error { return sleepCtx(ctx, time.Hour) })
	}
	g.Go(func() error {
		time.Sleep(time.Millisecond)
		tFail = time.Now()
		return errors.New("boom")
	})
	g.Wait()
	emit("fail_fast", float64(time.Since(tFail).Nanoseconds())/1e6, "ms")
}

func benchHold() {
	n := scale(1_000_000)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var started sync.WaitGroup
	runtime.GC()
	rss0 := rss()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		started.Add(1)
		go func() { started.Done(); sleepCtx(ctx, time.Hour); wg.Done() }()
	}
	started.Wait()
	t1 := time.Now()
	rss1 := rss()
	emit("hold", float64(n), "tasks")
	emit("hold_rss", float64(rss1-rss0)/float64(n), "bytes")
	emit("hold_create", float64(t1.Sub(t0).Nanoseconds())/float64(n), "ns")
	cancel()
	wg.Wait()
}

func benchGatherLimit() {
	n := scale(100_000)
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			sem <- struct{}{}
			runtime.Gosched()
			<-sem
			wg.Done()
		}()
	}
	wg.Wait()
	emit("gather_limit", float64(time.Since(t0).Nanoseconds())/1e6, "ms")
}

func benchEcho() {
	conns := 1000
	if quick {
		conns = 100
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				io.Copy(c, c)
			}(c)
		}
	}()
	addr := l.Addr().String()
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				panic(err)
			}
			defer c.Close()
			msg := make([]byte, 64)
			back := make([]byte, 64)
			for r := 0; r < 100; r++ {
				c.Write(msg)
				io.ReadFull(c, back)
			}
		}()
	}
	wg.Wait()
	emit("echo", float64(time.Since(t0).Nanoseconds())/1e6, "ms")
	l.Close()
}

// Channels on one P, like the switch case: one token relayed between two
// goroutines running the same function over two unbuffered channels (1M
// messages), and 4 producers into one channel of 128.
func benchChanPingPong() {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	n := scale(1_000_000) / 2
	a, b := make(chan int), make(chan int)
	var wg sync.WaitGroup
	var dt time.Duration
	relay := func(in <-chan int, out chan<- int, first bool) {
		defer wg.Done()
		t0 := time.Now()
		if first {
			out <- 0
		}
		for i := 0; i < n; i++ {
			v := <-in
			if i+1 < n || !first {
				out <- v + 1
			}
		}
		if first {
			dt = time.Since(t0)
		}
	}
	wg.Add(2)
	go relay(b, a, false)
	go relay(a, b, true)
	wg.Wait()
	emit("chan_pingpong", float64(dt.Nanoseconds())/float64(2*n), "ns")
}

func benchChanFanIn() {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	per := scale(1_000_000) / 4
	c := make(chan int, 128)
	t0 := time.Now()
	for k := 0; k < 4; k++ {
		go func() {
			for i := 0; i < per; i++ {
				c <- i
			}
		}()
	}
	sum := 0
	for i := 0; i < 4*per; i++ {
		sum += <-c
	}
	emit("chan_fanin", float64(time.Since(t0).Nanoseconds())/float64(4*per), "ns")
	if sum != 4*(per*(per-1)/2) {
		panic("lost items")
	}
}

// offload: the Go way to run a blocking call beside the caller is a
// goroutine (the runtime hands a blocked one its own thread) answering on a
// channel: the round trip of a no-op.
func benchOffload() {
	n := scale(200000)
	ch := make(chan int)
	nop := func() int { return 0 }
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { ch <- nop() }()
		<-ch
	}
	emit("offload", float64(time.Since(t0).Nanoseconds())/float64(n)/1e3, "us")
}

// subprocess: os/exec, Run (start and wait) of `true` with stdio on
// /dev/null (exec.Cmd's default), one at a time and from 8 goroutines.
func runTrue() {
	if err := exec.Command("true").Run(); err != nil {
		panic(err)
	}
}

func subprocess(conc int, name string) {
	n := int64(scale(1000))
	runTrue()
	left := n
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				runTrue()
			}
		}()
	}
	wg.Wait()
	emit(name, float64(time.Since(t0).Nanoseconds())/float64(n)/1e3, "us")
}

func benchSubprocess()  { subprocess(1, "subprocess") }
func benchSubprocess8() { subprocess(8, "subprocess_8") }

func main() {
	cases := []struct {
		name string
		fn   func()
	}{{"switch", benchSwitch}, {"spawn_join", benchSpawnJoin}, {"gather", benchGather},
		{"timers", benchTimers}, {"fail_fast", benchFailFast}, {"hold", benchHold},
		{"gather_limit", benchGatherLimit}, {"echo", benchEcho},
		{"chan_pingpong", benchChanPingPong}, {"chan_fanin", benchChanFanIn},
		{"offload", benchOffload}, {"http_fanout", benchHTTPFanout},
		{"subprocess", benchSubprocess}, {"subprocess_8", benchSubprocess8}}
	for _, c := range cases {
		want := len(os.Args) == 1
		for _, a := range os.Args[1:] {
			if a == c.name {
				want = true
			}
		}
		if want {
			c.fn()
		}
	}
}

func statusKB(key string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			var v int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(l[len(key):], "kB")), &v)
			return v
		}
	}
	return 0
}

// http_fanout: N GETs of HTTP_FANOUT_URL by 100 goroutines over one
// keep-alive pool (net/http, idle pool sized for the fan-out).
func benchHTTPFanout() {
	url := os.Getenv("HTTP_FANOUT_URL")
	if url == "" {
		return
	}
	const conc = 100
	total := 10000
	if quick {
		total = 1000
	}
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc}
	client := &http.Client{Transport: tr}
	get := func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err == nil && resp.StatusCode == 200 && n == 1024
	}
	get()
	lat := make([]int64, total)
	var next, failures int64
	rss0 := statusKB("VmRSS:")
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(total) {
					return
				}
				s := time.Now()
				if !get() {
					atomic.AddInt64(&failures, 1)
				}
				lat[i] = time.Since(s).Nanoseconds()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	hwm := statusKB("VmHWM:")
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "go http_fanout: %d failed\n", failures)
		return
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	emit("http_fanout", float64(total)/secs, "req/s")
	emit("http_fanout_p50", float64(lat[total/2])/1e3, "us")
	emit("http_fanout_p99", float64(lat[total*99/100])/1e3, "us")
	emit("http_fanout_mem", float64(hwm-rss0)*1024/conc, "bytes")
}
