//go:build linux

package bolt_test

import (
	"bufio"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

// The crash test: a child process appends from many goroutines and says
// which appends were acknowledged; it is killed with SIGKILL at a random
// moment, mid-commit more often than not, and the journal it leaves must
// hold every acknowledged event, whole, at the position acknowledged,
// with no gap, and its publisher IDs must resolve. An event that was
// stored but not yet acknowledged may be there; then it too must be whole.
// Cycles go on with the same file. Every other cycle, the child's log
// moves to its other segment every 256 KiB, so that kills land while the
// log changes segments and while appends wait for the applier to free
// one. CI runs a short form (crashCycles);
// HERALD_CRASH_CYCLES=500 is the long one.

const (
	crashChildEnv  = "HERALD_CRASH_CHILD"  // the journal path, in the child
	crashCycleEnv  = "HERALD_CRASH_CYCLE"  // the cycle, in the child
	crashSmallEnv  = "HERALD_CRASH_SMALL"  // set: small log segments, in the child
	crashCyclesEnv = "HERALD_CRASH_CYCLES" // the number of cycles
	crashWriters   = 16
	crashCycles    = 25
)

// quiet takes the journal's report of the events it replays from the log
// after each kill.
var quiet = slog.New(slog.DiscardHandler)

// crashData is the data of the event with id: 0.1 to 8 KiB, by a hash of
// the ID, so that events cross pages now and then and a torn write would
// show.
func crashData(id string) []byte {
	h := fnv.New32a()
	h.Write([]byte(id))
	n := 100 + int(h.Sum32()%8092)
	return []byte(strings.Repeat(id+";", n/(len(id)+1)+1)[:n])
}

func TestCrashKeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	cycles := crashCycles
	if v := os.Getenv(crashCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", crashCyclesEnv, v)
		}
		cycles = n
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := make(map[string]uint64) // every acknowledged ID, over all cycles
	killedMidWay := 0
	for cycle := range cycles {
		got, stored := crashCycle(t, path, cycle)
		for id, seq := range got {
			acked[id] = seq
		}
		if stored > len(got) {
			killedMidWay++
		}
		verifyCrashJournal(t, path, acked)
		if t.Failed() {
			t.Fatalf("cycle %d of %d failed", cycle+1, cycles)
		}
	}
	t.Logf("%d cycles, %d events acknowledged; %d cycles ended with events stored but not yet acknowledged", cycles, len(acked), killedMidWay)
}

// crashCycle runs one child until it is killed and returns the appends it
// acknowledged (ID to position), and how many events it had stored in all
// according to the journal (for the log).
func crashCycle(t *testing.T, path string, cycle int) (map[string]uint64, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashCycleEnv+"="+strconv.Itoa(cycle))
	if cycle%2 == 1 {
		cmd.Env = append(cmd.Env, crashSmallEnv+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := make(map[string]uint64)
	lines := bufio.NewScanner(out)
	first := make(chan struct{})
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		started := false
		for lines.Scan() {
			id, seq, ok := strings.Cut(lines.Text(), " ")
			n, err := strconv.ParseUint(seq, 10, 64)
			if !ok || err != nil {
				readErr = fmt.Errorf("child said %q", lines.Text())
				continue
			}
			acked[id] = n
			if !started {
				started = true
				close(first)
			}
		}
		if !started {
			close(first)
		}
	})
	select {
	case <-first:
	case <-time.After(30 * time.Second):
		t.Error("the child acknowledged nothing in 30 s")
	}
	time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	wg.Wait()
	cmd.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("cycle %d: the child ended before it was killed: %v", cycle, cmd.ProcessState)
	}
	stored := 0
	prefix := "c" + strconv.Itoa(cycle) + "-"
	j, err := bolt.Open(path, bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("cycle %d: reopening after the kill: %v", cycle, err)
	}
	defer j.Close()
	err = j.Read(context.Background(), 0, func(ev *journal.Event) error {
		if strings.HasPrefix(ev.ID, prefix) {
			stored++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cycle %d: reading after the kill: %v", cycle, err)
	}
	return acked, stored
}

// verifyCrashJournal checks the journal at path against what was
// acknowledged.
func verifyCrashJournal(t *testing.T, path string, acked map[string]uint64) {
	t.Helper()
	j, err := bolt.Open(path, bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatalf("reopening after the kill: %v", err)
	}
	defer j.Close()
	ctx := context.Background()
	found := make(map[string]uint64, len(acked))
	var want uint64 = 1
	err = j.Read(ctx, 0, func(ev *journal.Event) error {
		if ev.Seq != want {
			return fmt.Errorf("event %s at position %d, want %d: a gap", ev.ID, ev.Seq, want)
		}
		want++
		if string(ev.Data) != string(crashData(ev.ID)) {
			return fmt.Errorf("event %s at %d: data torn or wrong (%d bytes)", ev.ID, ev.Seq, len(ev.Data))
		}
		if len(ev.Topics) != 1 || ev.Topics[0] != "https://example.com/crash" {
			return fmt.Errorf("event %s at %d: topics %q", ev.ID, ev.Seq, ev.Topics)
		}
		found[ev.ID] = ev.Seq
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, seq := range acked {
		got, ok := found[id]
		switch {
		case !ok:
			t.Errorf("acknowledged event %s (position %d) is lost", id, seq)
		case got != seq:
			t.Errorf("acknowledged event %s was at %d, is at %d", id, seq, got)
		}
	}
	for id, seq := range found {
		if got, err := j.Lookup(ctx, id); err != nil || got != seq {
			t.Errorf("Lookup(%s) = %d, %v; the event is at %d", id, got, err, seq)
		}
	}
}

// TestCrashChild is the child of TestCrashKeepsAcknowledgedEvents: it
// appends until it is killed, writing "ID position" for each append
// acknowledged. It does nothing in an ordinary run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("the crash test's child")
	}
	cycle := os.Getenv(crashCycleEnv)
	if os.Getenv(crashSmallEnv) != "" {
		bolt.SetWALSegmentSize(256 << 10)
	}
	j, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for n := 0; ; n++ {
				id := "c" + cycle + "-w" + strconv.Itoa(w) + "-" + strconv.Itoa(n)
				ev := &journal.Event{ID: id, Topics: []string{"https://example.com/crash"}, Data: crashData(id)}
				if err := j.Append(context.Background(), ev); err != nil {
					fmt.Fprintln(os.Stderr, "child: append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s %d\n", id, ev.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
