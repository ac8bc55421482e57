/* The CPython side of the core: a greenlet is a stack slice (stack.c) plus
 * the interpreter state of pystate.h.  Every entry point runs with the GIL
 * held (see build_ffi.py), so the thread state can be swapped in place.
 */
#include "pystate.h"
#include "stack.h"
#include "gcffi.h"

struct gcffi_coro {
    gcffi_stack stack;          /* first, so a gcffi_stack * is a gcffi_coro * */
    gcffi_pystate py;
    PyThreadState *thread;      /* where it runs; NULL until it starts */
};

/* The greenlet running in this thread, so that a switch needs only its
 * target: a one-argument cffi call costs half of a two-argument one. */
static __thread gcffi_coro *running;

/* The Python-level bottom of every greenlet: an extern "Python" function
 * (build_ffi.py).  It returns the greenlet to continue with once this one
 * has finished, and never raises. */
extern gcffi_handle *gcffi_entry(void);

/* A new greenlet keeps its parent's recursion depth, less this much
 * headroom if needed, so that its entry can always be called. */
#define ENTRY_HEADROOM 50

/* First data-stack chunk of a new greenlet (3.11+).  CPython adds chunks of
 * its own when frames outgrow it and frees them as they empty. */
#define ROOT_CHUNK_SIZE 2048

void
gcffi_fatal(const char *msg)
{
    Py_FatalError(msg);
}

const char *
gcffi_platform(void)
{
    return gcffi_stack_platform();
}

#if GCFFI_CSTACK_FRAMES
/* The C-stack frames of a suspended greenlet are not where its Python frames
 * point any more: its stack slice is in the heap or overwritten.  So that
 * f_back (and gr_frame) never follows them, link each Python frame past them
 * when the greenlet leaves, remembering the links to restore on return: the
 * eval loop needs them to unwind.  This walks the greenlet's frames. */
static void
hide_cstack_frames(gcffi_pystate *s, PyThreadState *ts)
{
    struct _PyInterpreterFrame *f = s->frame;
    s->nlinks = 0;
    (void)ts;
    while (f != NULL) {
        struct _PyInterpreterFrame *p = f->previous;
        if (p != NULL && GCFFI_IS_CSTACK_FRAME(ts, p)) {
            struct _PyInterpreterFrame *q = p;
            while (q != NULL && GCFFI_IS_CSTACK_FRAME(ts, q))
                q = q->previous;
            if (s->nlinks == s->maxlinks) {
                int n = s->maxlinks ? 2 * s->maxlinks : 8;
                gcffi_link *links = PyMem_RawRealloc(s->links, n * sizeof(gcffi_link));
                if (links == NULL)
                    return;     /* introspection may then see stale links */
                s->links = links;
                s->maxlinks = n;
            }
            s->links[s->nlinks].frame = f;
            s->links[s->nlinks].previous = p;
            s->nlinks++;
            f->previous = q;
            p = q;
        }
        f = p;
    }
}

static void
show_cstack_frames(gcffi_pystate *s)
{
    int i;
    for (i = 0; i < s->nlinks; i++)
        s->links[i].frame->previous = s->links[i].previous;
    s->nlinks = 0;
}
#else
#define hide_cstack_frames(s, ts) ((void)0)
#define show_cstack_frames(s) ((void)0)
#endif

static void
pystate_save(gcffi_pystate *s, PyThreadState *ts)
{
#define SAVE(type, name, member) s->name = ts->member;
    GCFFI_PYSTATE(SAVE)
#undef SAVE
#ifdef GCFFI_RECURSION_LIMIT
    s->recursion_depth = GCFFI_RECURSION_LIMIT(ts) - GCFFI_RECURSION_REMAINING(ts);
#endif
    s->owned = 1;
    hide_cstack_frames(s, ts);
#if PY_VERSION_HEX >= 0x030E0000
    /* A greenlet that leaves from inside a tier-2/JIT executor will return
     * into it: keep it alive meanwhile.  CPython spares only the executor a
     * thread is running, which is the running greenlet's. */
    Py_XINCREF(s->current_executor);
#endif
}

static void
pystate_restore(gcffi_pystate *s, PyThreadState *ts)
{
    show_cstack_frames(s);
#define RESTORE(type, name, member) ts->member = s->name;
    GCFFI_PYSTATE(RESTORE)
#undef RESTORE
#ifdef GCFFI_RECURSION_LIMIT
    GCFFI_RECURSION_REMAINING(ts) = GCFFI_RECURSION_LIMIT(ts) - s->recursion_depth;
#endif
#if PY_VERSION_HEX >= 0x030E0000
    /* Running it again: CPython spares it as the thread's own now. */
    Py_XDECREF(ts->current_executor);
#endif
    s->owned = 0;
    ts->context_ver++;
#if GCFFI_CFRAME_TRACING
    ts->cframe->use_tracing = s->use_tracing;
#endif
#if PY_VERSION_HEX >= 0x030F0000
    /* A remote profiler's anchor in the frame chain that just left. */
    ts->last_profiled_frame = NULL;
    ts->last_profiled_frame_seq++;
#endif
}

/* Hands the switcher's tracing flag to the greenlet about to run. */
static void
pystate_hand_over(gcffi_pystate *to, PyThreadState *ts)
{
#if GCFFI_CFRAME_TRACING
    to->use_tracing = ts->cframe->use_tracing;
#else
    (void)to; (void)ts;
#endif
}

/* Turns the thread state into that of a new greenlet about to run its first
 * Python code: no frames, no exception, its own context and data stack. */
static void
pystate_start(gcffi_pystate *s, PyThreadState *ts)
{
    ts->exc_info = &ts->exc_state;
#if PY_VERSION_HEX < 0x030B0000
    ts->exc_state.exc_type = ts->exc_state.exc_value = ts->exc_state.exc_traceback = NULL;
#else
    ts->exc_state.exc_value = NULL;
#endif
    ts->exc_state.previous_item = NULL;
    ts->context = s->context;   /* gr_context set before start, or NULL */
    s->context = NULL;
    ts->context_ver++;
#if PY_VERSION_HEX < 0x030B0000
    ts->frame = NULL;
    ts->trash_delete_nesting = 0;
    if (ts->recursion_depth > Py_GetRecursionLimit() - ENTRY_HEADROOM)
        ts->recursion_depth = Py_GetRecursionLimit() > 2 * ENTRY_HEADROOM
            ? Py_GetRecursionLimit() - ENTRY_HEADROOM : 0;
#endif
#if GCFFI_PY(0x030A) || GCFFI_PY(0x030B) || GCFFI_PY(0x030C)
    ts->cframe = &ts->root_cframe;
#endif
#if GCFFI_CFRAME_TRACING
    ts->root_cframe.use_tracing = s->use_tracing;
#endif
#if GCFFI_PY(0x030B)
    ts->root_cframe.current_frame = NULL;
    ts->trash_delete_nesting = 0;
#endif
#if GCFFI_PY(0x030C)
    ts->root_cframe.current_frame = NULL;
    ts->trash.delete_nesting = 0;
#endif
#if PY_VERSION_HEX >= 0x030D0000
    ts->current_frame = GCFFI_NO_FRAME(ts);
    ts->delete_later = NULL;
#endif
#if PY_VERSION_HEX >= 0x030E0000
    /* The eval loop parks a running executor in its entry frame and puts it
     * back on return: a new greenlet starts outside any. */
    ts->current_executor = NULL;
#endif
#if PY_VERSION_HEX >= 0x030F0000
    ts->last_profiled_frame = NULL;
    ts->last_profiled_frame_seq++;
#endif
#ifdef GCFFI_RECURSION_LIMIT
    if (GCFFI_RECURSION_REMAINING(ts) < ENTRY_HEADROOM)
        GCFFI_RECURSION_REMAINING(ts) = ENTRY_HEADROOM;
#endif
#if GCFFI_C_RECURSION
    if (ts->c_recursion_remaining < ENTRY_HEADROOM)
        ts->c_recursion_remaining = ENTRY_HEADROOM;
#endif
#if GCFFI_HAS_DATASTACK
    {
        /* Like a thread's first chunk: data[0] stays unused, so popping the
         * greenlet's first frame never frees the chunk. */
        _PyStackChunk *chunk = s->datastack_chunk;
        s->datastack_chunk = NULL;
        chunk->previous = NULL;
        chunk->size = ROOT_CHUNK_SIZE;
        chunk->top = 0;
        ts->datastack_chunk = chunk;
        ts->datastack_top = &chunk->data[1];
        ts->datastack_limit = (PyObject **)((char *)chunk + ROOT_CHUNK_SIZE);
    }
#endif
    s->owned = 0;
}

/* After the greenlet's bottom frame has returned: its data stack is empty. */
static void
pystate_finish(gcffi_pystate *s, PyThreadState *ts)
{
#if GCFFI_HAS_DATASTACK
    PyMem_RawFree(ts->datastack_chunk);
    ts->datastack_chunk = NULL;
    ts->datastack_top = ts->datastack_limit = NULL;
#endif
    pystate_save(s, ts);    /* keeps its context, for gr_context */
}

/* What a greenlet needs before it can be switched to: a first data-stack
 * chunk if it is about to start. */
static int
prepare(gcffi_coro *target)
{
#if GCFFI_HAS_DATASTACK
    if (target->stack.state == GCFFI_UNSTARTED && target->py.datastack_chunk == NULL) {
        target->py.datastack_chunk = PyMem_RawMalloc(ROOT_CHUNK_SIZE);
        if (target->py.datastack_chunk == NULL)
            return -1;
    }
#endif
    return 0;
}

static gcffi_stack *
python_body(gcffi_stack *stack)
{
    gcffi_coro *self = (gcffi_coro *)stack;
    PyThreadState *ts = PyThreadState_Get();
    gcffi_coro *next;

    pystate_start(&self->py, ts);
    {
        gcffi_handle *h = gcffi_entry();
        if (h == NULL)
            gcffi_fatal("greenlet_cffi: a greenlet's Python entry failed");
        next = h->coro;
    }
    if (prepare(next) < 0)
        gcffi_fatal("greenlet_cffi: no memory to start a greenlet");
    pystate_finish(&self->py, ts);
    pystate_hand_over(&next->py, ts);
    next->thread = ts;
    running = next;
    return &next->stack;
}

static gcffi_coro *
coro_alloc(void)
{
    gcffi_coro *c = PyMem_RawCalloc(1, sizeof(gcffi_coro));
    if (c != NULL)
        c->py.owned = 1;
    return c;
}

gcffi_coro *
gcffi_new_main(void)
{
    gcffi_coro *c = coro_alloc();
    if (c != NULL) {
        gcffi_stack_init_main(&c->stack);
        c->py.owned = 0;        /* its state is the live thread state */
        c->thread = PyThreadState_Get();
        running = c;
    }
    return c;
}

gcffi_coro *
gcffi_new(void)
{
    gcffi_coro *c = coro_alloc();
    if (c != NULL)
        gcffi_stack_init(&c->stack, python_body);
    return c;
}

void
gcffi_free(gcffi_coro *c)
{
    if (c == NULL)
        return;
    if (c->py.owned) {
        /* Unstarted, finished, or suspended for good (its thread is gone).
         * A suspended greenlet's frames stay allocated: frame objects may
         * still point into its data stack. */
        Py_CLEAR(c->py.context);
        Py_CLEAR(c->py.exc_value);
#if PY_VERSION_HEX >= 0x030E0000
        Py_CLEAR(c->py.current_executor);
#endif
#if PY_VERSION_HEX < 0x030B0000
        Py_CLEAR(c->py.exc_type);
        Py_CLEAR(c->py.exc_traceback);
#endif
#if GCFFI_HAS_DATASTACK
        if (c->stack.state == GCFFI_UNSTARTED)
            PyMem_RawFree(c->py.datastack_chunk);
#endif
    }
#if GCFFI_CSTACK_FRAMES
    PyMem_RawFree(c->py.links);
#endif
    gcffi_stack_release(&c->stack);
    PyMem_RawFree(c);
}

int
gcffi_transfer(gcffi_handle *h)
{
    gcffi_coro *target = h->coro;
    PyThreadState *ts = PyThreadState_Get();
    gcffi_coro *origin = running;
    int r;

    if (origin == NULL || (target->thread != NULL && target->thread != ts))
        return -2;
    if (prepare(target) < 0)
        return -1;
    target->thread = ts;
    pystate_hand_over(&target->py, ts);
    pystate_save(&origin->py, ts);
    running = target;
    r = gcffi_stack_transfer(&origin->stack, &target->stack);
    if (r < 0) {
        running = origin;
        pystate_hand_over(&origin->py, ts);     /* nothing moved */
    }
    /* Resumed, or still here: this is origin's state again. */
    pystate_restore(&origin->py, ts);
    return r;
}

static int
append_result(uintptr_t out_list, PyObject *obj)
{
    int r = PyList_Append((PyObject *)out_list, obj ? obj : Py_None);
    Py_XDECREF(obj);
    return r;
}

int
gcffi_top_frame(gcffi_handle *h, uintptr_t out_list)
{
    gcffi_coro *c = h->coro;
    PyObject *frame = NULL;
    if (c->stack.state == GCFFI_STARTED && c->py.owned && c->py.frame != NULL) {
#if PY_VERSION_HEX < 0x030B0000
        frame = (PyObject *)c->py.frame;
        Py_INCREF(frame);
#else
        /* Only CPython can make the frame object: let it see the suspended
         * greenlet's top frame for the time of one call, with the cyclic GC
         * off so that no finalizer runs on that borrowed frame chain. */
        PyThreadState *ts = PyThreadState_Get();
        int gc_was_on = PyGC_Disable();
        struct _PyInterpreterFrame *keep = GCFFI_CURRENT_FRAME(ts);
        GCFFI_CURRENT_FRAME(ts) = c->py.frame;
        frame = (PyObject *)PyThreadState_GetFrame(ts);
        GCFFI_CURRENT_FRAME(ts) = keep;
        if (gc_was_on)
            PyGC_Enable();
#endif
    }
    return append_result(out_list, frame);
}

int
gcffi_get_context(gcffi_handle *h, int running, uintptr_t out_list)
{
    gcffi_coro *c = h->coro;
    PyObject *ctx = running ? PyThreadState_Get()->context : c->py.context;
    Py_XINCREF(ctx);
    return append_result(out_list, ctx);
}

void
gcffi_set_context(gcffi_handle *h, int running, uintptr_t ctx_id)
{
    gcffi_coro *c = h->coro;
    PyObject *ctx = (PyObject *)ctx_id, *old;
    Py_XINCREF(ctx);
    if (running) {
        PyThreadState *ts = PyThreadState_Get();
        old = ts->context;
        ts->context = ctx;
        ts->context_ver++;
    }
    else {
        old = c->py.context;
        c->py.context = ctx;
    }
    Py_XDECREF(old);
}
