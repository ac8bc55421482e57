/* What a greenlet keeps of CPython's PyThreadState while it is not running.
 *
 * Everything that describes "where the interpreter is" for the code running
 * on one C stack slice lives in the thread state, and each greenlet needs its
 * own copy, swapped on every switch.  The table below is the whole list, per
 * version; save and restore are generated from the GCFFI_PYSTATE rows under
 * it, one row  FIELD(type, name in gcffi_pystate, member of PyThreadState).
 *
 *  what                    member of PyThreadState          3.9 .10 .11 .12 .13 .14 .15
 *  current Python frame    frame                             x   x
 *                          cframe->current_frame                     x   x
 *                          current_frame                                     x   x   x
 *  C-level eval frame      cframe                                x   x   x
 *  Python recursion        recursion_depth                   x   x
 *                          recursion_remaining (as a depth)          x
 *                          py_recursion_remaining (likewise)             x   x   x   x
 *  C recursion budget      c_recursion_remaining                         x   x
 *  exception handled       exc_info, exc_state.exc_value     x   x   x   x   x   x   x
 *                          exc_state.exc_type, .exc_traceback x  x
 *  contextvars context     context (+ context_ver bumped)    x   x   x   x   x   x   x
 *  frame data stack        datastack_chunk, _top, _limit             x   x   x   x   x
 *  trashcan                trash_delete_nesting              x   x   x
 *                          trash.delete_nesting                          x
 *                          delete_later                                      x   x   x
 *  tier-2/JIT executor     current_executor                                      x   x
 *
 * Deliberately not saved:
 *  - the C stack limits (3.14+: c_stack_soft_limit/hard_limit/top replace the
 *    C recursion budget).  Every greenlet runs on the thread's own stack
 *    (stack.h), so the thread's limits are the right ones for all of them.
 *  - asyncio's running loop and task (3.14+ keep them in the thread state):
 *    per thread, as before 3.14 and as with greenlet.
 *  - 3.15's remote-profiler frame cache (last_profiled_frame) is reset on
 *    each switch instead: it points into the chain of the greenlet that left.
 * A new greenlet's frame chain ends at NULL, or from 3.15 at the thread's
 * base_frame sentinel, like a new thread's.
 *
 * Pointers are moved, not copied: while a greenlet is suspended its slots
 * own what the thread state owned (its context, its exception), and the
 * thread state owns them again once it runs.  The one reference count that
 * changes on a switch is the executor's (3.14+): CPython keeps the executor
 * a thread is running alive without one, and sees only the running
 * greenlet's, so a suspended greenlet holds a reference to its own.
 */
#ifndef GCFFI_PYSTATE_H
#define GCFFI_PYSTATE_H

#include <Python.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x03100000
#  error "greenlet_cffi supports CPython 3.9 to 3.15"
#endif
/* The switch swaps the thread state in place, which is only safe while this
 * thread holds the GIL; free-threaded builds also lay PyThreadState out
 * differently (critical sections and C-stack references live on the stack). */
#ifdef Py_GIL_DISABLED
#  error "greenlet_cffi does not support free-threaded CPython (built with --disable-gil)"
#endif

#define GCFFI_PY(major_minor) (PY_VERSION_HEX >> 16 == (major_minor))

#if GCFFI_PY(0x0309)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(PyFrameObject *, frame, frame)                                \
    FIELD(int, recursion_depth, recursion_depth)                        \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_type, exc_state.exc_type)                     \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, exc_traceback, exc_state.exc_traceback)           \
    FIELD(PyObject *, context, context)                                 \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)             \
    FIELD(int, tracing, tracing)
#elif GCFFI_PY(0x030A)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(CFrame *, cframe, cframe)                                     \
    FIELD(PyFrameObject *, frame, frame)                                \
    FIELD(int, recursion_depth, recursion_depth)                        \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_type, exc_state.exc_type)                     \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, exc_traceback, exc_state.exc_traceback)           \
    FIELD(PyObject *, context, context)                                 \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)             \
    FIELD(int, tracing, tracing)
#elif GCFFI_PY(0x030B)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(_PyCFrame *, cframe, cframe)                                  \
    FIELD(struct _PyInterpreterFrame *, frame, cframe->current_frame)   \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(int, trash_delete_nesting, trash_delete_nesting)             \
    FIELD(int, tracing, tracing)
#elif GCFFI_PY(0x030C)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(_PyCFrame *, cframe, cframe)                                  \
    FIELD(struct _PyInterpreterFrame *, frame, cframe->current_frame)   \
    FIELD(int, c_recursion_remaining, c_recursion_remaining)            \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(int, trash_delete_nesting, trash.delete_nesting)              \
    FIELD(int, tracing, tracing)
#elif GCFFI_PY(0x030D)
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(struct _PyInterpreterFrame *, frame, current_frame)           \
    FIELD(int, c_recursion_remaining, c_recursion_remaining)            \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(PyObject *, delete_later, delete_later)                       \
    FIELD(int, tracing, tracing)
#else /* 3.14, 3.15 */
#  define GCFFI_PYSTATE(FIELD)                                          \
    FIELD(struct _PyInterpreterFrame *, frame, current_frame)           \
    FIELD(PyObject *, current_executor, current_executor)               \
    FIELD(_PyErr_StackItem *, exc_info, exc_info)                       \
    FIELD(PyObject *, exc_value, exc_state.exc_value)                   \
    FIELD(PyObject *, context, context)                                 \
    FIELD(_PyStackChunk *, datastack_chunk, datastack_chunk)            \
    FIELD(PyObject **, datastack_top, datastack_top)                    \
    FIELD(PyObject **, datastack_limit, datastack_limit)                \
    FIELD(PyObject *, delete_later, delete_later)                       \
    FIELD(int, tracing, tracing)
#endif

/* The count of tracing suspensions (tstate->tracing) is per greenlet: each
 * stack enters and leaves it in pairs, so a switch that did not come through
 * the machinery's C entry (a kill from __del__) must not hand its count to
 * the greenlet it wakes (which then went negative, or, on 3.15, resumed a
 * frame run untraced with tracing on: its instrumentation crashed). */

/* From 3.12 each entry into the eval loop links a frame that lives on the
 * C stack between the Python frames (see core.c: hide_cstack_frames). */
#define GCFFI_CSTACK_FRAMES (PY_VERSION_HEX >= 0x030C0000)
/* Frames themselves (3.11+: core.c also reads them when it gives back the
 * data stack of a greenlet whose thread has ended). */
#if PY_VERSION_HEX >= 0x030B0000
#  ifndef Py_BUILD_CORE
#    define Py_BUILD_CORE 1
#  endif
#  include "internal/pycore_frame.h"
#  if PY_VERSION_HEX >= 0x030E0000
#    include "internal/pycore_interpframe_structs.h"
#    include "internal/pycore_stackref.h"
#  endif
#else
#  include <frameobject.h>     /* PyFrameObject's fields */
#endif
#if GCFFI_CSTACK_FRAMES
/* The eval loop's entry frame: owned by the C stack until 3.13; from 3.14
 * "owned by the interpreter", as is 3.15's base_frame sentinel at the bottom
 * of every thread's chain, which lives in the thread state and stays linked. */
#  if PY_VERSION_HEX < 0x030E0000
#    define GCFFI_IS_CSTACK_FRAME(ts, f) ((f)->owner == FRAME_OWNED_BY_CSTACK)
#  elif GCFFI_PY(0x030E)
#    define GCFFI_IS_CSTACK_FRAME(ts, f) ((f)->owner >= FRAME_OWNED_BY_INTERPRETER)
#  else
#    define GCFFI_IS_CSTACK_FRAME(ts, f) \
        ((f)->owner == FRAME_OWNED_BY_INTERPRETER && (f) != (ts)->base_frame)
#  endif
typedef struct {
    struct _PyInterpreterFrame *frame, *previous;
} gcffi_link;
#endif

/* From 3.11 the thread state counts what remains of the recursion limit;
 * a greenlet keeps its depth instead, so that a sys.setrecursionlimit()
 * made while it is suspended applies to it too. */
#if GCFFI_PY(0x030B)
#  define GCFFI_RECURSION_LIMIT(ts) ((ts)->recursion_limit)
#  define GCFFI_RECURSION_REMAINING(ts) ((ts)->recursion_remaining)
#elif PY_VERSION_HEX >= 0x030C0000
#  define GCFFI_RECURSION_LIMIT(ts) ((ts)->py_recursion_limit)
#  define GCFFI_RECURSION_REMAINING(ts) ((ts)->py_recursion_remaining)
#endif

/* Where the current frame is (3.11+), and what "no frame" is: from 3.15
 * every thread's chain ends at a sentinel frame in its thread state. */
#if PY_VERSION_HEX < 0x030B0000
#  define GCFFI_CURRENT_FRAME(ts) ((ts)->frame)
#elif GCFFI_PY(0x030B) || GCFFI_PY(0x030C)
#  define GCFFI_CURRENT_FRAME(ts) ((ts)->cframe->current_frame)
#elif PY_VERSION_HEX >= 0x030D0000
#  define GCFFI_CURRENT_FRAME(ts) ((ts)->current_frame)
#endif
#if PY_VERSION_HEX >= 0x030F0000
#  define GCFFI_NO_FRAME(ts) ((ts)->base_frame)
#else
#  define GCFFI_NO_FRAME(ts) NULL
#endif
/* The C recursion budget is counted per greenlet in 3.12 and 3.13; from
 * 3.14 CPython compares the stack pointer with the thread's stack limits. */
#define GCFFI_C_RECURSION (GCFFI_PY(0x030C) || GCFFI_PY(0x030D))

/* Python frames live in per-thread data-stack chunks from 3.11 on. */
#define GCFFI_HAS_DATASTACK (PY_VERSION_HEX >= 0x030B0000)
/* Value stacks of plain PyObject *, whose depth a greenlet left for good
 * can be told for some frames (release_frames in core.c): up to 3.13 */
#define GCFFI_VALUE_STACKS (PY_VERSION_HEX < 0x030E0000)
#if PY_VERSION_HEX < 0x030B0000
typedef PyFrameObject gcffi_frame;
#else
typedef struct _PyInterpreterFrame gcffi_frame;
#endif
/* The tracing flag lives in each C-level eval frame in 3.10 and 3.11. */
#define GCFFI_CFRAME_TRACING (GCFFI_PY(0x030A) || GCFFI_PY(0x030B))

typedef struct {
#define GCFFI_DECLARE(type, name, member) type name;
    GCFFI_PYSTATE(GCFFI_DECLARE)
#undef GCFFI_DECLARE
#ifdef GCFFI_RECURSION_LIMIT
    int recursion_depth;
#endif
    int owned;                  /* slots hold the references (suspended) */
#if GCFFI_CSTACK_FRAMES
    gcffi_link *links;          /* frame links bent past C-stack frames */
    int nlinks, maxlinks;
#endif
#if GCFFI_CFRAME_TRACING
    int use_tracing;            /* the switcher's flag, handed to us */
#endif
} gcffi_pystate;

#endif
