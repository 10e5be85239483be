//go:build linux && cgo

package cycle

/*
#cgo CFLAGS: -O2 -Wall
#cgo LDFLAGS: -pthread
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// A vfork child shares the parent's memory until it exits, so it runs
// with every signal blocked (a Go handler must not run in it) and only
// calls _exit.
static pid_t crhook_vfork_exit(void) {
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = vfork();
	if (pid == 0)
		_exit(0);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return pid < 0 ? -err : pid;
}

static pid_t crhook_fork_exit(void) {
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return pid < 0 ? -errno : pid;
}

// One cycling run, shared by its threads.
struct crhook_run {
	long n;                // stop after n children (rate runs)
	pid_t lo, target;      // stop once a child lands in [lo, target)
	long limit;            // give up after limit children
	int use_fork;
	atomic_long created;
	atomic_int done;
	atomic_int err;
};

static void *crhook_worker(void *arg) {
	struct crhook_run *r = arg;
	while (!atomic_load(&r->done)) {
		long k = atomic_fetch_add(&r->created, 1);
		if (r->n > 0 && k >= r->n) {
			atomic_fetch_sub(&r->created, 1);
			break;
		}
		if (r->limit > 0 && k >= r->limit) {
			atomic_store(&r->err, EAGAIN);
			atomic_store(&r->done, 1);
			break;
		}
		pid_t pid = r->use_fork ? crhook_fork_exit() : crhook_vfork_exit();
		if (pid < 0) {
			atomic_store(&r->err, -pid);
			atomic_store(&r->done, 1);
			break;
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (r->target > 0 && pid >= r->lo && pid < r->target)
			atomic_store(&r->done, 1);
	}
	return NULL;
}

// crhook_run_threads runs r on threads threads (the calling one among
// them) and returns its error.
static int crhook_run_threads(struct crhook_run *r, int threads) {
	pthread_t t[64];
	int started = 0;
	for (; started < threads - 1 && started < 64; started++)
		if (pthread_create(&t[started], NULL, crhook_worker, r) != 0)
			break;
	crhook_worker(r);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	return atomic_load(&r->err);
}

// crhook_cycle_n creates n children that exit at once, on threads
// threads, with vfork or fork: the cycling rate.
static int crhook_cycle_n(long n, int threads, int use_fork) {
	struct crhook_run r = {.n = n, .use_fork = use_fork};
	return crhook_run_threads(&r, threads);
}

// crhook_taken reports whether a task holds pid.
static int crhook_taken(pid_t pid) {
	return kill(pid, 0) == 0 || errno == EPERM;
}

// crhook_next_is reports whether target is the next PID the allocator
// hands out after last: every PID between them is taken.
static int crhook_next_is(pid_t last, pid_t target) {
	if (last >= target)
		return 0;
	pid_t q = last + 1;
	while (q < target && crhook_taken(q))
		q++;
	return q == target;
}

// crhook_advance cycles until the next PID the allocator hands out is
// target, last being the PID it handed out last: from threads threads
// while more than slack PIDs away (ahead), then one child at a time. It
// counts the children in *created.
static int crhook_advance(pid_t target, pid_t last, int threads, int ahead, pid_t slack, long limit, long *created) {
	struct crhook_run r = {.lo = target - slack, .target = target, .limit = limit};
	*created = 0;
	if (!ahead && crhook_next_is(last, target))
		return 0;
	if (ahead) {
		int err = crhook_run_threads(&r, threads);
		if (err) {
			*created = atomic_load(&r.created);
			return err;
		}
	}
	for (;;) {
		long k = atomic_fetch_add(&r.created, 1);
		if (k >= limit) {
			*created = k;
			return EAGAIN;
		}
		pid_t pid = crhook_vfork_exit();
		if (pid < 0) {
			*created = k + 1;
			return -pid;
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (crhook_next_is(pid, target)) {
			*created = k + 1;
			return 0;
		}
		// At or past target: a whole turn of the PID space.
	}
}

// crhook_land creates one child as clone3 does for set_tid, with a copy
// of the address space but without set_tid: it gets the next PID. When
// that is target and path is set, it execs path (its stdout on
// stdout_fd when >= 0); otherwise it exits at once. It returns the
// child's PID or -errno.
static pid_t crhook_land(pid_t target, const char *path, char *const argv[], char *const envp[], int stdout_fd) {
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		if (path != NULL && syscall(SYS_getpid) == target) {
			if (stdout_fd >= 0)
				dup2(stdout_fd, 1);
			execve(path, argv, envp);
			_exit(127);
		}
		_exit(0);
	}
	return pid < 0 ? -errno : (pid_t)pid;
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Threads is how many threads cycle at once while the wanted PID is far:
// each is blocked in the kernel for most of a vfork, so more than the
// CPUs help, up to a point (measured on two CPUs: 1, 2, 4, 8 threads
// cycled 20, 39, 50, 53 thousand PIDs/s).
func Threads() int { return min(4*runtime.NumCPU(), 64) }

// slack is how near the wanted PID the threads stop: each may create
// one more child after the first lands there.
func slack(threads int) int { return 2*threads + 8 }

// Rate creates n children that exit at once, from threads threads, with
// vfork or, when fork is set, fork, and returns how long they took.
func Rate(n, threads int, fork bool) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	useFork := C.int(0)
	if fork {
		useFork = 1
	}
	start := time.Now()
	errno := C.crhook_cycle_n(C.long(n), C.int(threads), useFork)
	took := time.Since(start)
	if errno != 0 {
		return took, fmt.Errorf("cycle: %w", syscall.Errno(errno))
	}
	return took, nil
}

// Advance cycles until target is the next PID the kernel hands out in
// the caller's PID namespace, creating at most limit children, and
// returns how many it created. last is the PID handed out last (the
// namespace's ns_last_pid); it decides whether the threads start.
func Advance(target, last, limit int) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threads := Threads()
	distance := target - last
	ahead := C.int(0)
	if distance <= 0 || distance > 2*slack(threads) {
		ahead = 1
	}
	var created C.long
	errno := C.crhook_advance(C.pid_t(target), C.pid_t(last), C.int(threads), ahead, C.pid_t(slack(threads)), C.long(limit), &created)
	if errno != 0 {
		return int(created), fmt.Errorf("cycle to %d: %w", target, syscall.Errno(errno))
	}
	return int(created), nil
}

// Exec is what the process that lands at the wanted PID runs.
type Exec struct {
	Path string
	Argv []string
	Env  []string
	// Stdout, when set, is its standard output.
	Stdout *os.File
}

// Land creates one child that gets the next PID: when that is target and
// ex is set, the child runs ex; otherwise it exits at once. The caller
// reaps it.
func Land(target int, ex *Exec) (int, error) {
	var path *C.char
	var argv, envp **C.char
	stdout := C.int(-1)
	if ex != nil {
		path = C.CString(ex.Path)
		defer C.free(unsafe.Pointer(path))
		argv = cStrings(ex.Argv)
		defer freeStrings(argv, len(ex.Argv))
		envp = cStrings(ex.Env)
		defer freeStrings(envp, len(ex.Env))
		if ex.Stdout != nil {
			stdout = C.int(ex.Stdout.Fd())
		}
	}
	pid := C.crhook_land(C.pid_t(target), path, argv, envp, stdout)
	if pid < 0 {
		return 0, fmt.Errorf("clone3: %w", syscall.Errno(-pid))
	}
	return int(pid), nil
}

// cStrings copies ss into a NULL-terminated C array.
func cStrings(ss []string) **C.char {
	size := unsafe.Sizeof((*C.char)(nil))
	arr := (**C.char)(C.malloc(C.size_t(uintptr(len(ss)+1) * size)))
	elems := unsafe.Slice(arr, len(ss)+1)
	for i, s := range ss {
		elems[i] = C.CString(s)
	}
	elems[len(ss)] = nil
	return arr
}

func freeStrings(arr **C.char, n int) {
	for _, p := range unsafe.Slice(arr, n) {
		C.free(unsafe.Pointer(p))
	}
	C.free(unsafe.Pointer(arr))
}
