/* The few thread primitives the pool needs, over pthreads (POSIX) or the
   Win32 API (Windows: SRW lock, condition variable, _beginthreadex), so that
   the pool's logic is written once. Inline: on POSIX each call is the
   pthread call it wraps, at no added cost.

   A thread function is declared `static G2_THREAD_FN name(void *arg)` and
   ends with `return G2_THREAD_RETURN;` (the two systems want different
   signatures). */
#ifndef G2_SYS_THREAD_H
#define G2_SYS_THREAD_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <process.h>

#define G2_THREAD_FN unsigned __stdcall
#define G2_THREAD_RETURN 0u
typedef HANDLE g2_thread;
typedef SRWLOCK g2_mutex;
typedef CONDITION_VARIABLE g2_cond;

/* 0 on success. _beginthreadex, not CreateThread, so that the C runtime's
   per-thread state is set up. */
static inline int g2_thread_create(g2_thread *thread, unsigned(__stdcall *fn)(void *), void *arg,
                                   size_t stack_bytes) {
  uintptr_t handle = _beginthreadex(NULL, (unsigned)stack_bytes, fn, arg, 0, NULL);
  if (!handle) return -1;
  *thread = (HANDLE)handle;
  return 0;
}
static inline void g2_thread_join(g2_thread thread) {
  WaitForSingleObject(thread, INFINITE);
  CloseHandle(thread);
}
static inline void g2_thread_yield(void) { SwitchToThread(); }
static inline void g2_mutex_init(g2_mutex *mutex) { InitializeSRWLock(mutex); }
static inline void g2_mutex_destroy(g2_mutex *mutex) { (void)mutex; } /* an SRW lock owns nothing */
static inline void g2_mutex_lock(g2_mutex *mutex) { AcquireSRWLockExclusive(mutex); }
static inline void g2_mutex_unlock(g2_mutex *mutex) { ReleaseSRWLockExclusive(mutex); }
static inline void g2_cond_init(g2_cond *cond) { InitializeConditionVariable(cond); }
static inline void g2_cond_destroy(g2_cond *cond) { (void)cond; }
static inline void g2_cond_wait(g2_cond *cond, g2_mutex *mutex) {
  SleepConditionVariableSRW(cond, mutex, INFINITE, 0);
}
static inline void g2_cond_broadcast(g2_cond *cond) { WakeAllConditionVariable(cond); }
/* A monotonic clock, in nanoseconds. */
static inline uint64_t g2_now_ns(void) {
  LARGE_INTEGER count, frequency;
  QueryPerformanceCounter(&count);
  QueryPerformanceFrequency(&frequency);
  uint64_t ticks = (uint64_t)count.QuadPart, hz = (uint64_t)frequency.QuadPart;
  return ticks / hz * 1000000000u + ticks % hz * 1000000000u / hz;
}

#else /* POSIX */

#include <limits.h> /* PTHREAD_STACK_MIN */
#include <pthread.h>
#include <sched.h>
#include <time.h>

#define G2_THREAD_FN void *
#define G2_THREAD_RETURN NULL
typedef pthread_t g2_thread;
typedef pthread_mutex_t g2_mutex;
typedef pthread_cond_t g2_cond;

/* 0 on success, else an errno value. A stack of stack_bytes (at least the
   system's minimum); the C library's default if it cannot be set. */
static inline int g2_thread_create(g2_thread *thread, void *(*fn)(void *), void *arg,
                                   size_t stack_bytes) {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return pthread_create(thread, NULL, fn, arg);
#ifdef PTHREAD_STACK_MIN
  if (stack_bytes < (size_t)PTHREAD_STACK_MIN) stack_bytes = (size_t)PTHREAD_STACK_MIN;
#endif
  pthread_attr_setstacksize(&attr, stack_bytes); /* on failure, the default */
  int error = pthread_create(thread, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  return error;
}
static inline void g2_thread_join(g2_thread thread) { pthread_join(thread, NULL); }
static inline void g2_thread_yield(void) { sched_yield(); }
static inline void g2_mutex_init(g2_mutex *mutex) { pthread_mutex_init(mutex, NULL); }
static inline void g2_mutex_destroy(g2_mutex *mutex) { pthread_mutex_destroy(mutex); }
static inline void g2_mutex_lock(g2_mutex *mutex) { pthread_mutex_lock(mutex); }
static inline void g2_mutex_unlock(g2_mutex *mutex) { pthread_mutex_unlock(mutex); }
static inline void g2_cond_init(g2_cond *cond) { pthread_cond_init(cond, NULL); }
static inline void g2_cond_destroy(g2_cond *cond) { pthread_cond_destroy(cond); }
static inline void g2_cond_wait(g2_cond *cond, g2_mutex *mutex) { pthread_cond_wait(cond, mutex); }
static inline void g2_cond_broadcast(g2_cond *cond) { pthread_cond_broadcast(cond); }
/* A monotonic clock, in nanoseconds. */
static inline uint64_t g2_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif

#endif
