/* The CPython side of the core: a greenlet is a stack slice (stack.c) plus
 * the interpreter state of pystate.h.  Every entry point runs with the GIL
 * held (see build_ffi.py), so the thread state can be swapped in place.
 */
#include "pystate.h"
#include "structmember.h"     /* T_OBJECT_EX */
#include "stack.h"
#include "gcffi.h"

struct gcffi_coro {
    gcffi_stack stack;          /* first, so a gcffi_stack * is a gcffi_coro * */
    gcffi_pystate py;
    PyThreadState *thread;      /* where it runs; NULL until it starts */
    int main;                   /* a thread's main greenlet (its own stack) */
    PyObject *record;           /* main: the layer's record of its thread */
    /* begin()'s run, args and kwargs (or NULL) while run runs: held here,
     * not on the C stack, so that a greenlet left for good by its thread
     * releases them; not begin()'s tuple, which would be one more object
     * per suspended greenlet for every collection to walk */
    PyObject *call[3];
#if GCFFI_VALUE_STACKS
    /* While switch()/throw() runs: the frame that called it and the top of
     * that frame's value stack then (the eval loop does not record it during
     * a call to C); see release_datastack. */
    gcffi_frame *call_frame;
    PyObject **call_sp;
#endif
};

/* The greenlet running in this thread, so that a switch needs only its
 * target: a one-argument cffi call costs half of a two-argument one. */
static __thread gcffi_coro *running;

/* The Python layer's record of this thread (its _ThreadState), borrowed from
 * the thread's main core, which holds it (so that it outlives the main
 * greenlet, whatever order their references go in) and clears this when
 * freed.  switch() hands it to the layer's fast path, which so tells "a
 * greenlet of this thread" by identity instead of asking for the thread id;
 * getcurrent() reads the current greenlet from it. */
static __thread PyObject *thread_record;

/* The Python layer's two halves of a greenlet's life (gcffi_set_entry):
 * begin() -> (run, args, kwargs) to call, or raises what was thrown into the
 * greenlet before it ran; finish(result, exception) -> the address of the
 * core to continue with.  run itself is called from here, so that no frame
 * of ours lies under it (its f_back is None, as in greenlet). */
static PyObject *entry_begin, *entry_finish;

/* A new greenlet keeps its parent's recursion depth, so that greenlets
 * starting greenlets without end meet RecursionError (the C stack grows
 * with each).  begin() and finish() are given this much headroom, so that
 * the bookkeeping around run always runs. */
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
static void show_cstack_frames(gcffi_pystate *s);

/* 0, or -1 if there was no memory to remember the links (then none bent). */
static int
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
                gcffi_link *links = GCFFI_ALLOC_FAILS() ? NULL
                    : PyMem_RawRealloc(s->links, n * sizeof(gcffi_link));
                if (links == NULL) {
                    show_cstack_frames(s);
                    return -1;
                }
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
    return 0;
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
#define hide_cstack_frames(s, ts) 0
#define show_cstack_frames(s) ((void)0)
#endif

/* 0, or -1 (no memory; nothing saved). */
static int
pystate_save(gcffi_pystate *s, PyThreadState *ts)
{
#define SAVE(type, name, member) s->name = ts->member;
    GCFFI_PYSTATE(SAVE)
#undef SAVE
    if (hide_cstack_frames(s, ts) < 0)  /* ts still holds it all: no harm */
        return -1;
#ifdef GCFFI_RECURSION_LIMIT
    s->recursion_depth = GCFFI_RECURSION_LIMIT(ts) - GCFFI_RECURSION_REMAINING(ts);
#endif
    s->owned = 1;
#if PY_VERSION_HEX >= 0x030E0000
    /* A greenlet that leaves from inside a tier-2/JIT executor will return
     * into it: keep it alive meanwhile.  CPython spares only the executor a
     * thread is running, which is the running greenlet's. */
    Py_XINCREF(s->current_executor);
#endif
    return 0;
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
        target->py.datastack_chunk = GCFFI_ALLOC_FAILS() ? NULL : PyMem_RawMalloc(ROOT_CHUNK_SIZE);
        if (target->py.datastack_chunk == NULL)
            return -1;
    }
#endif
    return 0;
}


static void
machinery_enter(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyThreadState_EnterTracing(ts);
#elif PY_VERSION_HEX >= 0x030A0000
    ts->tracing++;
    ts->cframe->use_tracing = 0;
#else
    ts->tracing++;
    ts->use_tracing = 0;
#endif
}

static void
machinery_leave(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyThreadState_LeaveTracing(ts);
#else
    int on = ts->c_tracefunc != NULL || ts->c_profilefunc != NULL;
    ts->tracing--;
#  if PY_VERSION_HEX >= 0x030A0000
    ts->cframe->use_tracing = on;
#  else
    ts->use_tracing = on;
#  endif
#endif
}

/* Recursion levels left in this thread, read and set (as a depth before 3.11). */
static int
levels_left(PyThreadState *ts)
{
#ifdef GCFFI_RECURSION_REMAINING
    return GCFFI_RECURSION_REMAINING(ts);
#else
    return Py_GetRecursionLimit() - ts->recursion_depth;
#endif
}

static void
set_levels_left(PyThreadState *ts, int n)
{
#ifdef GCFFI_RECURSION_REMAINING
    GCFFI_RECURSION_REMAINING(ts) = n;
#else
    ts->recursion_depth = Py_GetRecursionLimit() - n;
#endif
}

/* fn(a, b) (or fn() if a is NULL) with at least ENTRY_HEADROOM levels of
 * recursion left, then the levels as they were. */
static PyObject *
call_with_headroom(PyThreadState *ts, PyObject *fn, PyObject *a, PyObject *b)
{
    PyObject *r;
    int left = levels_left(ts);
#if GCFFI_C_RECURSION
    int c_left = ts->c_recursion_remaining;
    if (c_left < ENTRY_HEADROOM)
        ts->c_recursion_remaining = ENTRY_HEADROOM;
#endif
    if (left < ENTRY_HEADROOM)
        set_levels_left(ts, ENTRY_HEADROOM);
    r = a == NULL ? PyObject_CallNoArgs(fn) : PyObject_CallFunctionObjArgs(fn, a, b, NULL);
    set_levels_left(ts, left);
#if GCFFI_C_RECURSION
    ts->c_recursion_remaining = c_left;
#endif
    return r;
}

/* The exception being raised, as one normalized object (a new reference). */
static PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

static gcffi_stack *
python_body(gcffi_stack *stack)
{
    gcffi_coro *self = (gcffi_coro *)stack;
    PyThreadState *ts = PyThreadState_Get();
    PyObject *call, *result = NULL, *exc = NULL, *where;
    gcffi_coro *next;
    int i;

    pystate_start(&self->py, ts);
    call = call_with_headroom(ts, entry_begin, NULL, NULL);
    if (call != NULL) {
        if (PyTuple_Check(call) && PyTuple_GET_SIZE(call) == 3) {
            for (i = 0; i < 3; i++) {
                self->call[i] = PyTuple_GET_ITEM(call, i);
                Py_INCREF(self->call[i]);
            }
            Py_DECREF(call);
            if (self->call[2] == Py_None)
                Py_CLEAR(self->call[2]);
            /* Nothing on a new stack suspends tracing but the machinery
             * that started it (which may be a switch from Python code). */
            ts->tracing = 1;
            machinery_leave(ts);
            result = PyObject_Call(self->call[0], self->call[1], self->call[2]);
            machinery_enter(ts);
            for (i = 0; i < 3; i++)
                Py_CLEAR(self->call[i]);
        }
        else {
            PyErr_SetString(PyExc_SystemError, "greenlet_cffi: bad begin() result");
            Py_DECREF(call);
        }
    }
    if (result == NULL)
        exc = take_exception();
    where = call_with_headroom(ts, entry_finish, result ? result : Py_None,
                               exc ? exc : Py_None);
    Py_XDECREF(result);
    Py_XDECREF(exc);
    if (where == NULL)
        gcffi_fatal("greenlet_cffi: a greenlet's finish() failed");
    next = (gcffi_coro *)PyLong_AsVoidPtr(where);
    Py_DECREF(where);
    if (prepare(next) < 0)      /* allocated by gcffi_new: cannot fail */
        gcffi_fatal("greenlet_cffi: no memory to start a greenlet");
    pystate_finish(&self->py, ts);
    pystate_hand_over(&next->py, ts);
    next->thread = ts;
    running = next;
    return &next->stack;
}

/* -- the switch machinery, unseen by tracers and profilers ----------------
 *
 * greenlet's switch() and throw() are C methods: sys.setprofile sees one
 * c_call, and the run of the greenlet switched to, nothing of the machinery.
 * Ours are C methods too, which call the Python layer's implementation with
 * the thread's tracing suspended (as CPython does while it runs a trace
 * function).  One switch enters the machinery in one greenlet and leaves it
 * in another, so the count stays balanced per thread. */

static int
append_result(uintptr_t out_list, PyObject *obj)
{
    int r = PyList_Append((PyObject *)out_list, obj ? obj : Py_None);
    Py_XDECREF(obj);
    return r;
}

static PyObject *method_impl[2];    /* switch, throw */

/* impl(*stack) with tracing suspended, for a C method called with args
 * whose end is top.  Called from the eval loop, args are the caller's value
 * stack, whose top is then just past them: recorded for release_datastack
 * (checked against the frame where it is used), as the eval loop does not
 * record it during a call to C. */
static PyObject *
call_recorded(PyThreadState *ts, PyObject *impl, PyObject *const *stack, size_t n,
              PyObject *kwnames, PyObject *const *top)
{
    PyObject *r;
#if GCFFI_VALUE_STACKS
    gcffi_coro *me = running;
    gcffi_frame *outer_frame = NULL;
    PyObject **outer_sp = NULL;
    if (me != NULL) {
        outer_frame = me->call_frame;
        outer_sp = me->call_sp;
        me->call_frame = GCFFI_CURRENT_FRAME(ts);
        me->call_sp = (PyObject **)top;
    }
#else
    (void)top;
#endif
    machinery_enter(ts);
    r = PyObject_Vectorcall(impl, stack, n, kwnames);
    machinery_leave(ts);
#if GCFFI_VALUE_STACKS
    if (me != NULL) {
        me->call_frame = outer_frame;
        me->call_sp = outer_sp;
    }
#endif
    return r;
}

/* impl(self, *args, **kwargs), with tracing suspended.  Only borrowed
 * references are kept here: while the greenlet is suspended in the call,
 * nothing it was sent is held on this C stack. */
static PyObject *
call_impl(int which, PyObject *self, PyObject *const *args, size_t nargsf,
          PyObject *kwnames)
{
    PyObject *small[8], **stack = small, *r;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), i;
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyThreadState *ts = PyThreadState_Get();

    if (total + 1 > (Py_ssize_t)(sizeof small / sizeof small[0])) {
        stack = GCFFI_ALLOC_FAILS() ? NULL : PyMem_Malloc((total + 1) * sizeof(PyObject *));
        if (stack == NULL)
            return PyErr_NoMemory();
    }
    stack[0] = self;
    for (i = 0; i < total; i++)
        stack[i + 1] = args[i];
    r = call_recorded(ts, method_impl[which], stack, nargs + 1, kwnames, args + total);
    if (stack != small)
        PyMem_Free(stack);
    return r;
}

/* The layer's switch(value) and switch() (_greenlet.py's _switch_value,
 * set by gcffi_set_fast_switch), called as fast_switch(record, self, value,
 * given): no tuple or dict for the arguments, value () when not given, and
 * the thread's record (or None) for its thread check by identity.  Other
 * calls go to the layer's switch(self, *args, **kwargs), which hands the
 * same two forms to the same function. */
static PyObject *fast_switch, *empty_tuple;

static PyObject *
method_switch(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL && nargs <= 1 && fast_switch != NULL) {
        PyObject *stack[4];
        stack[0] = thread_record ? thread_record : Py_None;
        stack[1] = self;
        stack[2] = nargs ? args[0] : empty_tuple;
        stack[3] = nargs ? Py_True : Py_False;
        return call_recorded(PyThreadState_Get(), fast_switch, stack, 4, NULL, args + nargs);
    }
    return call_impl(0, self, args, nargsf, kwnames);
}

int
gcffi_set_fast_switch(uintptr_t impl)
{
    if (empty_tuple == NULL && (empty_tuple = PyTuple_New(0)) == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_INCREF((PyObject *)impl);
    Py_XSETREF(fast_switch, (PyObject *)impl);
    return 0;
}

static PyObject *
method_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return call_impl(1, self, args, nargs, kwnames);
}

static PyMethodDef method_defs[] = {
    {"switch", (PyCFunction)(void (*)(void))method_switch, METH_FASTCALL | METH_KEYWORDS,
     "switch(*args, **kwargs)\n--\n\nSwitch to this greenlet, passing args/kwargs; return what is\n"
     "passed back when something switches to the caller again."},
    {"throw", (PyCFunction)(void (*)(void))method_throw, METH_FASTCALL | METH_KEYWORDS,
     "throw(typ=GreenletExit, val=None, tb=None)\n--\n\nRaise an exception in this greenlet "
     "(immediately, by switching to it)\nand return what is passed back to the caller."},
};

/* A C method of type `cls` named like method_defs[which] that calls impl;
 * appended to out_list. */
int
gcffi_make_method(uintptr_t cls, int which, uintptr_t impl, uintptr_t out_list)
{
    PyObject *descr;
    if (which < 0 || which >= (int)(sizeof method_defs / sizeof method_defs[0]))
        return -1;
    Py_INCREF((PyObject *)impl);
    Py_XSETREF(method_impl[which], (PyObject *)impl);
    descr = PyDescr_NewMethod((PyTypeObject *)cls, &method_defs[which]);
    if (descr == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, descr);
}

/* The machinery's other entries (the constructor, properties, special
 * methods, module functions, finalizers and callbacks the interpreter calls)
 * are C code to tracers and profilers too, as greenlet's are: each is a C
 * function whose self is the Python function it runs with tracing
 * suspended.  Its PyMethodDef lives as long as the process (a few dozen). */
static PyObject *
untraced_call(PyObject *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyThreadState *ts = PyThreadState_Get();
    PyObject *r;
    machinery_enter(ts);
    r = PyObject_Vectorcall(fn, args, nargs, kwnames);
    machinery_leave(ts);
    return r;
}

int
gcffi_untraced(uintptr_t fn, uintptr_t name, uintptr_t doc, int as_method,
               uintptr_t out_list)
{
    PyObject *f, *r;
    PyMethodDef *def = PyMem_RawCalloc(1, sizeof *def);
    if (def == NULL)
        return -1;
    /* name and doc are str objects the caller keeps alive for good. */
    def->ml_name = PyUnicode_AsUTF8((PyObject *)name);
    def->ml_doc = doc ? PyUnicode_AsUTF8((PyObject *)doc) : NULL;
    def->ml_meth = (PyCFunction)(void (*)(void))untraced_call;
    def->ml_flags = METH_FASTCALL | METH_KEYWORDS;
    if (def->ml_name == NULL || (doc && def->ml_doc == NULL)) {
        PyErr_Clear();
        PyMem_RawFree(def);
        return -1;
    }
    f = PyCFunction_New(def, (PyObject *)fn);
    /* An instance method binds like a Python function (self first). */
    r = f && as_method ? PyInstanceMethod_New(f) : f;
    if (r != f)
        Py_XDECREF(f);
    if (r == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, r);
}

/* The reverse: fn(*args) from inside the machinery, traced like user code
 * (a switch's trace callback).  A builtin, as it runs on every traced
 * switch: a Python wrapper around two cffi calls cost about as much as
 * the switch itself. */
static PyObject *
traced_call(PyObject *unused, PyObject *const *args, Py_ssize_t nargs)
{
    PyThreadState *ts = PyThreadState_Get();
    PyObject *r;
    (void)unused;
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "call_traced(fn, *args) needs fn");
        return NULL;
    }
    machinery_leave(ts);
    r = PyObject_Vectorcall(args[0], args + 1, nargs - 1, NULL);
    machinery_enter(ts);
    return r;
}

static PyMethodDef traced_call_def = {
    "call_traced", (PyCFunction)(void (*)(void))traced_call, METH_FASTCALL,
    "call_traced(fn, *args)\n--\n\nfn(*args), seen by tracers and profilers."
};

int
gcffi_make_call_traced(uintptr_t out_list)
{
    PyObject *fn = PyCFunction_New(&traced_call_def, NULL);
    if (fn == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, fn);
}

/* getcurrent() in C: the record's `current` slot, unless the record has
 * greenlets waiting to be killed (`doomed`, a list), there is no record or
 * current greenlet yet, or the interpreter is finalizing: then the layer's
 * own getcurrent() (slow), which handles all of those. */
static PyObject *getcurrent_slow;
static Py_ssize_t current_offset, doomed_offset;

#if PY_VERSION_HEX < 0x030D0000
#  define GCFFI_FINALIZING() _Py_IsFinalizing()
#else
#  define GCFFI_FINALIZING() Py_IsFinalizing()
#endif

static PyObject *
fast_getcurrent(PyObject *unused, PyObject *noargs)
{
    PyObject *ts = thread_record;
    (void)unused; (void)noargs;
    if (ts != NULL && !GCFFI_FINALIZING()) {
        PyObject *cur = *(PyObject **)((char *)ts + current_offset);
        PyObject *doomed = *(PyObject **)((char *)ts + doomed_offset);
        if (cur != NULL && cur != Py_None && doomed != NULL
                && PyList_CheckExact(doomed) && PyList_GET_SIZE(doomed) == 0) {
            Py_INCREF(cur);
            return cur;
        }
    }
    return PyObject_CallNoArgs(getcurrent_slow);
}

static PyMethodDef getcurrent_def = {
    "getcurrent", fast_getcurrent, METH_NOARGS,
    "getcurrent()\n--\n\nReturn the greenlet running in this thread."
};

static Py_ssize_t
slot_offset(PyObject *descr)
{
    PyMemberDef *m;
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type))
        return -1;
    m = ((PyMemberDescrObject *)descr)->d_member;
    return m->type == T_OBJECT_EX ? m->offset : -1;
}

int
gcffi_make_getcurrent(uintptr_t slow, uintptr_t current, uintptr_t doomed,
                      uintptr_t out_list)
{
    PyObject *fn;
    current_offset = slot_offset((PyObject *)current);
    doomed_offset = slot_offset((PyObject *)doomed);
    if (current_offset < 0 || doomed_offset < 0)
        return -1;
    Py_INCREF((PyObject *)slow);
    Py_XSETREF(getcurrent_slow, (PyObject *)slow);
    fn = PyCFunction_New(&getcurrent_def, NULL);
    if (fn == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, fn);
}

/* CPython runs an object's __del__ once (PEP 442).  A greenlet that the
 * kill of its collection did not end, and that something now holds again,
 * must be killed again when it is dropped again, as greenlet does: clear
 * the "finalized" bit, the lowest of the GC header's word before the object.
 * CPython sets it after __del__ returns, so this is done from a pending
 * call, which runs between bytecodes in the main thread, and waits (asks
 * to run again) while the bit is still clear: __del__ is still running. */
static int
rearm_pending(void *arg)
{
    PyObject *o = arg;
    uintptr_t *prev = &((uintptr_t *)o)[-1];
    if (!(*prev & 1)) {
        if (Py_AddPendingCall(rearm_pending, o) == 0)
            return 0;
    }
    *prev &= ~(uintptr_t)1;
    Py_DECREF(o);       /* the last reference? then it is killed right now */
    return 0;
}

void
gcffi_rearm_finalizer(uintptr_t obj)
{
    PyObject *o = (PyObject *)obj;
    if (!PyObject_IS_GC(o))
        return;
    Py_INCREF(o);
    if (Py_AddPendingCall(rearm_pending, o) < 0)
        Py_DECREF(o);   /* the queue is full: it will not be killed again */
}

/* The base of the layer's greenlet class: it holds the greenlet's handle
 * (`_greenlet__handle`) where the cyclic collector does not look.  A handle
 * is a cffi pointer object, in no cycle, and not one of the collector's;
 * but as a slot of the Python class the collector read it, a cache miss
 * per greenlet in each of a collection's passes: gc.collect() with 100,000
 * suspended greenlets took 42-47 ms against 24-25 ms without it and greenlet
 * 3.5.6's 26-27 (CPython 3.11).  Not a GC type: the layer's subclass adds
 * the collector's support and traverses only its own slots. */
typedef struct {
    PyObject_HEAD
    PyObject *handle;
} handle_base;

static void
handle_base_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(((handle_base *)self)->handle);
    tp->tp_free(self);
    Py_DECREF(tp);      /* a heap type: subtype_dealloc leaves it to us */
}

static PyMemberDef handle_base_members[] = {
    {"_greenlet__handle", T_OBJECT_EX, offsetof(handle_base, handle), 0, NULL},
    {NULL, 0, 0, 0, NULL}
};

static PyType_Slot handle_base_slots[] = {
    {Py_tp_dealloc, (void *)handle_base_dealloc},
    {Py_tp_members, handle_base_members},
    {0, NULL}
};

static PyType_Spec handle_base_spec = {
    "greenlet_cffi._core.handle_base", sizeof(handle_base), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, handle_base_slots
};

int
gcffi_make_handle_base(uintptr_t out_list)
{
    PyObject *t = PyType_FromSpec(&handle_base_spec);
    if (t == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, t);
}

/* The weak reference that frees a handle's core: it is in no cycle (its
 * callback is a module-level function), so the collector need not walk
 * it -- one object fewer per greenlet in every collection. */
void
gcffi_untrack(uintptr_t obj)
{
    PyObject *o = (PyObject *)obj;
    if (PyObject_IS_GC(o))
        PyObject_GC_UnTrack(o);
}

size_t
gcffi_stack_saved(gcffi_handle *h)
{
    gcffi_coro *c = h->coro;
    return c->stack.state == GCFFI_STARTED ? c->stack.saved : 0;
}

int
gcffi_trash_delete_nesting(void)
{
    PyThreadState *ts = PyThreadState_Get();
#if PY_VERSION_HEX < 0x030C0000
    return ts->trash_delete_nesting;
#elif PY_VERSION_HEX < 0x030D0000
    return ts->trash.delete_nesting;
#else
    (void)ts;
    return -1;      /* 3.13 has no such count (it keeps a list) */
#endif
}

void
gcffi_set_entry(uintptr_t begin, uintptr_t finish)
{
    PyObject *old_begin = entry_begin, *old_finish = entry_finish;
    entry_begin = (PyObject *)begin;
    entry_finish = (PyObject *)finish;
    Py_INCREF(entry_begin);
    Py_INCREF(entry_finish);
    Py_XDECREF(old_begin);
    Py_XDECREF(old_finish);
}

static gcffi_coro *
coro_alloc(void)
{
    gcffi_coro *c = GCFFI_ALLOC_FAILS() ? NULL : PyMem_RawCalloc(1, sizeof(gcffi_coro));
    if (c != NULL)
        c->py.owned = 1;
    return c;
}

gcffi_coro *
gcffi_new_main(uintptr_t record)
{
    gcffi_coro *c = coro_alloc();
    if (c != NULL) {
        gcffi_stack_init_main(&c->stack);
        c->main = 1;
        c->py.owned = 0;        /* its state is the live thread state */
        c->thread = PyThreadState_Get();
        running = c;
        thread_record = c->record = (PyObject *)record;
        Py_XINCREF(c->record);
    }
    return c;
}

void
gcffi_release_record(gcffi_coro *c)
{
    /* The thread has ended: nothing reads its record through the core. */
    if (thread_record == c->record)
        thread_record = NULL;
    Py_CLEAR(c->record);
}

gcffi_coro *
gcffi_new(void)
{
    gcffi_coro *c = coro_alloc();
    if (c != NULL) {
        gcffi_stack_init(&c->stack, python_body);
        /* Its first data-stack chunk now, where running out of memory is a
         * MemoryError: a finished greenlet may have to start it, and has
         * no caller left to raise one in. */
        if (prepare(c) < 0) {
            PyMem_RawFree(c);
            return NULL;
        }
    }
    return c;
}

/* The layer's transfer function (lib.gcffi_transfer) and its handles' type:
 * a greenlet suspends in `failed = _transfer(handle)`, a call made at value
 * stack depth 0, so its top frame's value stack is then exactly that call:
 * [fn, handle] before 3.11, [NULL, fn, handle] in 3.11/3.12, [fn, NULL,
 * handle] in 3.13.  Checked item by item before it is trusted. */
static PyObject *transfer_fn;
static PyTypeObject *handle_type;

void
gcffi_set_transfer(uintptr_t fn, uintptr_t handle)
{
    Py_XSETREF(transfer_fn, (PyObject *)fn);
    Py_INCREF(transfer_fn);
    Py_XSETREF(handle_type, Py_TYPE((PyObject *)handle));
    Py_INCREF(handle_type);
}

/* transfer(handle) as a builtin function (METH_O), for the layer's switch
 * path: cffi's wrapper around gcffi_transfer converts the argument through
 * cffi's generic machinery and saves and restores errno, about 15 ns of a
 * 250 ns switch (CPython 3.11, perf).  A handle is a cffi cdata object
 * owning a gcffi_handle; its pointer is read where cffi keeps it (after the
 * object header: its ctype, then its data pointer) -- a layout that
 * gcffi_make_transfer checks against cffi's own answer before this is
 * used, and that is checked again per call by type and ctype. */
static void *handle_ctype;

static gcffi_handle *
handle_pointer(PyObject *h)
{
    void **fields = (void **)((char *)h + sizeof(PyObject));
    return Py_TYPE(h) == handle_type && fields[0] == handle_ctype
        ? (gcffi_handle *)fields[1] : NULL;
}

static PyObject *
builtin_transfer(PyObject *module, PyObject *h)
{
    gcffi_handle *p = handle_pointer(h);
    (void)module;
    if (p == NULL) {
        PyErr_SetString(PyExc_TypeError, "greenlet_cffi: transfer() takes a greenlet handle");
        return NULL;
    }
    return PyLong_FromLong(gcffi_transfer(p));
}

static PyMethodDef transfer_def = {
    "transfer", builtin_transfer, METH_O,
    "transfer(handle)\n--\n\nSwitch to the greenlet of handle: 0 once resumed, "
    "nonzero if the switch could not be made."
};

int
gcffi_make_transfer(uintptr_t sample, uintptr_t pointer, uintptr_t out_list)
{
    PyObject *h = (PyObject *)sample, *fn;
    void **fields = (void **)((char *)h + sizeof(PyObject));
    if (fields[1] != (void *)pointer)
        return -1;      /* not the layout we know: cffi's wrapper it is */
    Py_INCREF(Py_TYPE(h));
    Py_XSETREF(handle_type, Py_TYPE(h));
    handle_ctype = fields[0];
    fn = PyCFunction_New(&transfer_def, NULL);
    if (fn == NULL) {
        PyErr_Clear();
        return -1;
    }
    return append_result(out_list, fn);
}

#if GCFFI_VALUE_STACKS
static PyObject **
transfer_call_top(PyObject **base, PyObject **limit)
{
    if (transfer_fn == NULL)
        return NULL;
#  if PY_VERSION_HEX < 0x030B0000
    if (limit - base >= 2 && base[0] == transfer_fn
            && base[1] != NULL && Py_TYPE(base[1]) == handle_type)
        return base + 2;
#  else
    if (limit - base >= 3
            && ((base[0] == NULL && base[1] == transfer_fn)
                || (base[0] == transfer_fn && base[1] == NULL))
            && base[2] != NULL && Py_TYPE(base[2]) == handle_type)
        return base + 3;
#  endif
    return NULL;
}
#endif

#if GCFFI_HAS_DATASTACK
/* A greenlet that will never run again (its thread has ended) gives back
 * its data-stack chunks -- unless a frame object still points into them:
 * then they stay, as frame objects may be used any time.  The references
 * its frames hold are released where they are known: local variables, and
 * (3.11-3.13) the value stack of a frame whose depth is known -- recorded
 * by the eval loop (stacktop) when it called a Python function, by
 * call_impl for the frame that called switch()/throw(), or the top frame's
 * transfer call (transfer_call_top).  Other value
 * stacks, half-done by the eval loop, cannot be told from garbage: kept. */
static int
in_chunks(_PyStackChunk *chunk, void *p)
{
    for (; chunk != NULL; chunk = chunk->previous)
        if ((char *)p >= (char *)chunk && (char *)p < (char *)chunk + chunk->size)
            return 1;
    return 0;
}

static void
release_datastack(gcffi_coro *c)
{
    gcffi_pystate *s = &c->py;
    PyObjectArenaAllocator arena;
    _PyStackChunk *chunk = s->datastack_chunk;
    struct _PyInterpreterFrame *f;

    /* A frame object only its frame holds (gr_frame showed it, nobody kept
     * it) goes first: it does not own the frame, so it leaves it alone.
     * Top down, as a frame object holds the one below through f_back. */
    for (f = s->frame; f != NULL && in_chunks(chunk, f); f = f->previous) {
        PyFrameObject *fo = f->frame_obj;
        if (fo == NULL)
            continue;
        if (Py_REFCNT(fo) > 1)
            return;
        f->frame_obj = NULL;
        Py_DECREF(fo);
    }
#if PY_VERSION_HEX < 0x030E0000
    /* Its local variables are whole: those it releases. */
    for (f = s->frame; f != NULL && in_chunks(chunk, f); f = f->previous) {
#  if PY_VERSION_HEX < 0x030D0000
        PyCodeObject *code = f->f_code;
#  else
        PyCodeObject *code = (PyCodeObject *)f->f_executable;
#  endif
        int i;
        for (i = 0; i < code->co_nlocalsplus; i++)
            Py_CLEAR(f->localsplus[i]);
#  if GCFFI_VALUE_STACKS
        {
            PyObject **base = f->localsplus + code->co_nlocalsplus, **top = NULL;
            if (f == c->call_frame && c->call_sp >= base
                    && c->call_sp <= base + code->co_stacksize)
                top = c->call_sp;
            else if (f->stacktop >= code->co_nlocalsplus
                     && f->stacktop <= code->co_nlocalsplus + code->co_stacksize)
                top = f->localsplus + f->stacktop;
            else if (f == s->frame)
                top = transfer_call_top(base, base + code->co_stacksize);
            for (; top != NULL && base < top; base++)
                Py_CLEAR(*base);
        }
#  endif
        /* and the frame's own references (the code object last: read above) */
        Py_CLEAR(f->f_locals);
#  if GCFFI_PY(0x030B)
        Py_CLEAR(f->f_func);
        Py_CLEAR(f->f_code);
#  elif GCFFI_PY(0x030C)
        Py_CLEAR(f->f_funcobj);
        Py_CLEAR(f->f_code);
#  else
        Py_CLEAR(f->f_funcobj);
        Py_CLEAR(f->f_executable);
#  endif
    }
#else
    /* 3.14+: locals and value stack are tagged references up to the
     * stack pointer, which the eval loop stores before every call it makes
     * (a tag marks those it does not own: closing skips them). */
    for (f = s->frame; f != NULL && in_chunks(chunk, f); f = f->previous) {
        PyCodeObject *code = (PyCodeObject *)PyStackRef_AsPyObjectBorrow(f->f_executable);
        _PyStackRef *p = f->localsplus, *top = f->stackpointer;
        if (!PyCode_Check(code))
            continue;
        if (top < p || top > p + code->co_nlocalsplus + code->co_stacksize)
            top = p;        /* not a stack pointer: leave them */
        for (; p < top; p++) {
            _PyStackRef ref = *p;
            *p = PyStackRef_NULL;
            PyStackRef_XCLOSE(ref);
        }
        Py_CLEAR(f->f_locals);
        {
            _PyStackRef fn = f->f_funcobj, ex = f->f_executable;
            f->f_funcobj = PyStackRef_NULL;
            f->f_executable = PyStackRef_NULL;
            PyStackRef_XCLOSE(fn);
            PyStackRef_XCLOSE(ex);
        }
    }
#endif
    PyObject_GetArenaAllocator(&arena);
    while (chunk != NULL) {
        _PyStackChunk *previous = chunk->previous;
        if (previous == NULL)
            PyMem_RawFree(chunk);       /* the first chunk is ours (prepare) */
        else
            arena.free(arena.ctx, chunk, chunk->size);     /* CPython's */
        chunk = previous;
    }
    s->datastack_chunk = NULL;
}
#endif

#if !GCFFI_HAS_DATASTACK
/* Before 3.11, a greenlet that will never run again (its thread has ended)
 * drops the reference to each of its frame objects that the C call running
 * it held (a generator's frame has none: its generator holds it), top
 * down, so that each goes when nothing else holds it -- and with it its
 * locals and, for the frame that called switch()/throw(), its value stack
 * (recorded by call_impl).  A frame still held elsewhere is handed to the
 * cyclic GC, as CPython does when such a call returns. */
static void
release_frames(gcffi_coro *c)
{
    PyFrameObject *f = c->py.frame, *back;
    for (; f != NULL; f = back) {
        back = f->f_back;
        if (f->f_gen != NULL)
            continue;
        PyObject **top = NULL, **limit = f->f_valuestack + f->f_code->co_stacksize;
        if (f == c->call_frame && c->call_sp >= f->f_valuestack && c->call_sp <= limit)
            top = c->call_sp;
        else if (f == c->py.frame)
            top = transfer_call_top(f->f_valuestack, limit);
        if (top != NULL) {      /* for frame_dealloc to release */
#  if GCFFI_PY(0x0309)
            f->f_stacktop = top;
#  else
            f->f_stackdepth = (int)(top - f->f_valuestack);
#  endif
        }
        if (Py_REFCNT(f) > 1 && !PyObject_GC_IsTracked((PyObject *)f))
            PyObject_GC_Track(f);
        Py_DECREF(f);
    }
    c->py.frame = NULL;
}
#endif

void
gcffi_free(gcffi_coro *c)
{
    if (c == NULL)
        return;
    if (c == running) {     /* this thread's main, at the thread's end */
        running = NULL;
        thread_record = NULL;
    }
    Py_CLEAR(c->record);
    if (c->py.owned) {
        /* Unstarted, finished, or suspended for good (its thread is gone). */
        Py_CLEAR(c->call[0]);
        Py_CLEAR(c->call[1]);
        Py_CLEAR(c->call[2]);
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
        else if (c->stack.state == GCFFI_STARTED && !c->main)
            release_datastack(c);
#else
        if (c->stack.state == GCFFI_STARTED && !c->main)
            release_frames(c);
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
    if (pystate_save(&origin->py, ts) < 0)
        return -1;
    target->thread = ts;
    pystate_hand_over(&target->py, ts);
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
