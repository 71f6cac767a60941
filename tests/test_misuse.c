/* Misuse cannot corrupt: each misuse gets a defined code, or an abort
 * with a message naming the call and the object, never a free of
 * something else, a hang or silent corruption. */
#include "test.h"

#include <signal.h>

static const uint64_t seeds[] = {0, 3, 99};
static void run_modes(corral_fn fn, void *arg) {
  run_seeds(fn, arg, seeds, sizeof seeds / sizeof *seeds);
}

static int napper(void *arg, void **res) {
  (void)arg, (void)res;
  return corral_sleep(CORRAL_MS(10));
}

/* ---- a group opened twice ---- */

static corral_group shared_g;
static int open_shared(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_group_open(&shared_g, NULL), CORRAL_EBUSY);
  return 0;
}
static int m_group_twice(void *arg, void **res) {
  (void)arg, (void)res;
  corral_group *g = &shared_g;
  CHECK_RC(corral_group_open(g, NULL), 0);
  CHECK_RC(corral_spawn(g, napper, NULL, "child", NULL), 0);
  CHECK_RC(corral_group_open(g, NULL), CORRAL_EBUSY); /* same task */
  corral_task *t;
  CHECK_RC(corral_create_task(open_shared, NULL, "other", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0); /* another task */
  corral_task_release(t);
  CHECK_EQ(corral_group_running(g), 1);
  CHECK_RC(corral_group_close(g, 0), 0); /* waited for its child */
  CHECK_EQ(corral_group_succeeded(g), 1);
  /* Closed storage may be opened again. */
  CHECK_RC(corral_group_open(g, NULL), 0);
  CHECK_RC(corral_group_close(g, 0), 0);
  return 0;
}
TEST(group_opened_twice_is_busy) { run_modes(m_group_twice, NULL); }

/* ---- a scope entered twice ---- */

static corral_scope shared_s;
static int enter_shared(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_scope_enter(&shared_s, NULL), CORRAL_EBUSY);
  return 0;
}
static int m_scope_twice(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_scope_enter(&shared_s, NULL), 0);
  CHECK_RC(corral_scope_enter(&shared_s, NULL), CORRAL_EBUSY);
  CHECK_RC(corral_move_on_after(&shared_s, CORRAL_SEC(1)), CORRAL_EBUSY);
  corral_task *t;
  CHECK_RC(corral_create_task(enter_shared, NULL, "other", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  /* The scope still works: cancel, level-triggered, exit converts. */
  CHECK_RC(corral_scope_cancel(&shared_s, "stop"), 0);
  int rc = corral_sleep(CORRAL_SEC(1));
  CHECK_RC(rc, CORRAL_ECANCELED);
  CHECK_RC(corral_scope_exit(&shared_s, rc), 0);
  CHECK_RC(corral_scope_exit(&shared_s, 0), CORRAL_EINVAL); /* not entered */
  CHECK_RC(corral_sleep(CORRAL_MS(1)), 0); /* no spinning, no hang */
  CHECK_RC(corral_scope_enter(&shared_s, NULL), 0); /* again, after exit */
  CHECK_RC(corral_scope_exit(&shared_s, 0), 0);
  return 0;
}
TEST(scope_entered_twice_is_busy) { run_modes(m_scope_twice, NULL); }

/* ---- task handles: released twice, stale, borrowed, after the run ---- */

static corral_task *stale, *fresh;
static int m_stale_codes(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_create_task(napper, NULL, "first", &stale), 0);
  CHECK_RC(corral_join(stale, NULL), 0);
  corral_task_release(stale); /* freed now: nothing else holds it */
  /* The next spawn reuses the struct (LIFO), with a new generation. */
  CHECK_RC(corral_create_task(napper, NULL, "second", &fresh), 0);
  CHECK((uintptr_t)stale != (uintptr_t)fresh);
  CHECK_RC(corral_cancel(stale, "wrong task"), CORRAL_EINVAL);
  CHECK_RC(corral_join(stale, NULL), CORRAL_EINVAL);
  CHECK_RC(corral_wait(&stale, 1, CORRAL_ALL_COMPLETED, 0, NULL),
           CORRAL_EINVAL);
  CHECK_RC(corral_wait_for(stale, 0, NULL), CORRAL_EINVAL);
  /* The task that reused the struct was not touched. */
  CHECK_RC(corral_join(fresh, NULL), 0);
  CHECK_EQ(corral_task_status(fresh), CORRAL_STATUS_OK);
  corral_task_release(fresh);
  return 0;
}
TEST(stale_handle_gets_a_code_and_touches_no_other_task) {
  run_modes(m_stale_codes, NULL);
}

static int m_double_release(void *arg, void **res) {
  (void)res;
  int reuse = *(int *)arg;
  corral_task *t;
  CHECK_RC(corral_create_task(napper, NULL, "first", &t), 0);
  CHECK_RC(corral_join(t, NULL), 0);
  corral_task_release(t);
  if (reuse) { /* the struct now belongs to another task with a handle */
    CHECK_RC(corral_create_task(napper, NULL, "second", &fresh), 0);
  }
  corral_task_release(t); /* aborts */
  return 0;
}
static int reuse_flag;
static void double_release_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  corral_run(&o, m_double_release, &reuse_flag, NULL);
}
TEST(double_release_aborts_even_after_reuse) {
  for (reuse_flag = 0; reuse_flag < 2; reuse_flag++) {
    char buf[4096];
    int st = run_child(double_release_child, buf, sizeof buf);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(buf, "corral_task_release: task handle") != NULL);
    CHECK(strstr(buf, "is stale") != NULL);
  }
}

/* Released while the task still runs: a second release is still caught
 * (the task lives on in its group). */
static int m_release_running(void *arg, void **res) {
  (void)arg, (void)res;
  corral_task *t;
  CHECK_RC(corral_create_task(napper, NULL, "runs-on", &t), 0);
  corral_task_release(t);
  corral_task_release(t); /* aborts */
  return 0;
}
static void release_running_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  corral_run(&o, m_release_running, NULL, NULL);
}
TEST(double_release_of_a_running_task_aborts) {
  char buf[4096];
  int st = run_child(release_running_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(buf, "is stale") != NULL);
}

/* corral_current names the task with the same handle its spawner got. */
static corral_task *spawned_as;
static int who_am_i(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK(corral_current() == spawned_as);
  return 0;
}
static int m_borrowed(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_create_task(who_am_i, NULL, "me", &spawned_as), 0);
  CHECK_RC(corral_join(spawned_as, NULL), 0);
  corral_task_release(spawned_as);
  corral_task *me = corral_current();
  CHECK_STR(corral_task_name(me), "main");
  CHECK_EQ(corral_task_done(me), 0);
  CHECK_RC(corral_join(me, NULL), CORRAL_EDEADLK);
  corral_task_release(me); /* aborts: nobody owns a handle to main */
  return 0;
}
static void borrowed_child(void) {
  corral_options o = {0};
  o.virtual_clock = 1;
  corral_run(&o, m_borrowed, NULL, NULL);
}
TEST(current_handle_equals_spawn_handle_and_is_not_released) {
  char buf[4096];
  int st = run_child(borrowed_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(buf, "never owned") != NULL);
}

static corral_task *kept;
static int m_keep(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_create_task(napper, NULL, "kept", &kept), 0);
  return corral_join(kept, NULL); /* the handle is never released */
}
static int m_other_runtime(void *arg, void **res) {
  (void)arg, (void)res;
  CHECK_RC(corral_cancel(kept, NULL), CORRAL_EFOREIGN);
  CHECK_RC(corral_join(kept, NULL), CORRAL_EFOREIGN);
  return 0;
}
TEST(handle_after_its_runtime_ended_gets_a_code) {
  CHECK_RC(run_virtual(m_keep, NULL), 0);
  CHECK_RC(corral_cancel(kept, NULL), CORRAL_ENOTASK);
  CHECK_RC(corral_join(kept, NULL), CORRAL_ENOTASK);
  CHECK_RC(run_virtual(m_other_runtime, NULL), 0); /* a later runtime */
}

static void status_after_run_child(void) {
  CHECK_RC(run_virtual(m_keep, NULL), 0);
  (void)corral_task_status(kept); /* aborts: no code to return */
}
TEST(handle_read_after_its_runtime_ended_aborts) {
  char buf[4096];
  int st = run_child(status_after_run_child, buf, sizeof buf);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  CHECK(strstr(buf, "corral_task_status: task handle") != NULL);
  CHECK(strstr(buf, "corral_run returns") != NULL);
}

/* A group policy smuggled into gather's options, and a scope configured
 * while entered: defined codes. */
static int m_wrong_policy(void *arg, void **res) {
  (void)arg, (void)res;
  corral_call c = {napper, NULL, "n"};
  corral_outcome o;
  corral_gather_opts go = {0};
  go.policy = (corral_gather_policy)(int)CORRAL_FIRST;
  CHECK_RC(corral_gather(&c, 1, &o, &go), CORRAL_EINVAL);
  corral_scope s;
  CHECK_RC(corral_scope_enter(&s, NULL), 0);
  CHECK_RC(corral_scope_init(&s, NULL), CORRAL_EBUSY);
  CHECK_RC(corral_scope_exit(&s, 0), 0);
  CHECK_RC(corral_scope_init(&s, NULL), 0); /* after exit: fine */
  return 0;
}
TEST(wrong_policy_type_and_busy_scope_init) { run_modes(m_wrong_policy, NULL); }

/* Storage that holds the bytes of a live scope or group (a copy, or stale
 * bytes of an earlier frame) is not taken for one: only the runtime's own
 * record of entered scopes and open groups counts. */
static int m_stale_storage(void *arg, void **res) {
  (void)arg, (void)res;
  corral_scope live, copy;
  CHECK_RC(corral_move_on_after(&live, CORRAL_SEC(10)), 0);
  memcpy(&copy, &live, sizeof copy); /* looks entered, owned by us */
  CHECK_RC(corral_move_on_after(&copy, CORRAL_SEC(5)), 0);
  CHECK_RC(corral_scope_exit(&copy, 0), 0);
  CHECK_RC(corral_move_on_after(&live, CORRAL_SEC(1)), CORRAL_EBUSY);
  CHECK_RC(corral_scope_exit(&live, 0), 0);
  corral_group g, gcopy;
  CHECK_RC(corral_group_open(&g, NULL), 0);
  memcpy(&gcopy, &g, sizeof gcopy);
  CHECK_RC(corral_group_open(&gcopy, NULL), 0);
  CHECK_RC(corral_group_close(&gcopy, 0), 0);
  CHECK_RC(corral_group_open(&g, NULL), CORRAL_EBUSY);
  CHECK_RC(corral_group_close(&g, 0), 0);
  return 0;
}

TEST(stale_storage_is_not_taken_for_a_live_scope_or_group) {
  CHECK_RC(run_virtual(m_stale_storage, NULL), 0);
}
