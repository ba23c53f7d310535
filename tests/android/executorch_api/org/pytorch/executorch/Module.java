package org.pytorch.executorch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Stand-in for executorch-android 1.5.1's Module (Module.kt), with its Java-visible signatures:
 * {@code loadMethod} returns nothing and throws ExecutorchRuntimeException on failure (it
 * returned an int error code before pytorch/executorch#19229), {@code Module.load} throws on a
 * bad path or file; {@code execute(name)} with no inputs runs a method of the program, such as a
 * constant method returning a string, and {@code getMethods} names them all. {@code destroy}
 * frees the native program (a second call does nothing), after which every other call throws
 * IllegalStateException, as there. As there, every call holds the Module's lock, and
 * {@code destroy} while another thread is in a call throws IllegalStateException ("Cannot destroy
 * module while method is executing") and frees nothing. The static fields script what the
 * native side would do, and {@link #undestroyed} counts what it still holds.
 */
public class Module {
    /** Which call fails: "load", "loadMethod", "forward", "execute", or null for none. */
    public static String failAt;
    /** Only a model whose path contains this fails; null: every model. */
    public static String failFor;
    /** What the failing call throws; null: the ExecutorchRuntimeException the runtime throws. */
    public static Throwable failWith;
    /** The failing call ends the process instead, as a native crash would. */
    public static boolean dieInstead;
    /** What forward returns, one float per output value. */
    public static float[] output = {0.25f};
    /**
     * The program's constant methods besides forward, each returning one value: a String, or a
     * float[] for a tensor. Empty: a file without them.
     */
    public static Map<String, Object> constants = new LinkedHashMap<String, Object>();
    /** Only a model whose path contains this has {@link #constants}; null: every model. */
    public static String constantsFor;
    public static long[] lastShape;
    public static Module last;
    /** Modules loaded and not destroyed: native programs the process still holds. */
    public static int undestroyed;
    /** Set both to hold forward inside its call: a long inference (counted down on entry). */
    public static CountDownLatch forwardEntered;
    /** ... until this is counted down. */
    public static CountDownLatch forwardMayReturn;

    public boolean destroyed;
    private final String path;
    private final ReentrantLock lock = new ReentrantLock(); // Module.kt's mLock

    private Module(String path) {
        this.path = path;
    }

    public static Module load(String modelPath) {
        fail("load", modelPath,
                new ExecutorchRuntimeException(0x22, "Failed to load " + modelPath));
        last = new Module(modelPath);
        undestroyed++;
        return last;
    }

    public void loadMethod(String methodName) {
        lock.lock();
        try {
            checkNotDestroyed();
            fail("loadMethod", path,
                    new ExecutorchRuntimeException(0x12, "Failed to load method: " + methodName));
        } finally {
            lock.unlock();
        }
    }

    public EValue[] forward(EValue... inputs) {
        lock.lock();
        try {
            checkNotDestroyed();
            fail("forward", path,
                    new ExecutorchRuntimeException(0x12, "Failed to execute method forward"));
            lastShape = inputs[0].toTensor().shape();
            if (forwardMayReturn != null) {
                forwardEntered.countDown();
                awaitUninterruptibly(forwardMayReturn);
            }
            return new EValue[] {EValue.from(Tensor.fromBlob(output, new long[] {output.length}))};
        } finally {
            lock.unlock();
        }
    }

    public EValue[] execute(String methodName, EValue... inputs) {
        if ("forward".equals(methodName)) {
            return forward(inputs);
        }
        lock.lock();
        try {
            return executeConstant(methodName);
        } finally {
            lock.unlock();
        }
    }

    private EValue[] executeConstant(String methodName) {
        checkNotDestroyed();
        Map<String, Object> here = constants();
        if (!here.containsKey(methodName)) { // load_method fails: no such method
            throw new ExecutorchRuntimeException(
                    0x12, "Cannot get method names [Native Error: 0x12]");
        }
        fail("execute", path, new ExecutorchRuntimeException(0x1, "Execution failed for method: "
                + methodName));
        Object value = here.get(methodName);
        if (value instanceof float[]) {
            float[] data = (float[]) value;
            return new EValue[] {EValue.from(Tensor.fromBlob(data, new long[] {data.length}))};
        }
        return new EValue[] {EValue.from((String) value)};
    }

    public String[] getMethods() {
        lock.lock();
        try {
            checkNotDestroyed();
            List<String> names = new ArrayList<String>();
            names.add("forward");
            names.addAll(constants().keySet());
            return names.toArray(new String[0]);
        } finally {
            lock.unlock();
        }
    }

    private Map<String, Object> constants() {
        return constantsFor == null || path.contains(constantsFor)
                ? constants : new LinkedHashMap<String, Object>();
    }

    public void destroy() {
        if (!lock.tryLock()) {
            throw new IllegalStateException("Cannot destroy module while method is executing");
        }
        try {
            if (!destroyed) {
                undestroyed--;
            }
            destroyed = true;
        } finally {
            lock.unlock();
        }
    }

    /** Wait as a native call would: an interrupt does not end it, and is kept for later. */
    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void checkNotDestroyed() {
        if (destroyed) {
            throw new IllegalStateException("Module has been destroyed");
        }
    }

    private static void fail(String call, String modelPath, RuntimeException usual) {
        if (!call.equals(failAt) || (failFor != null && !modelPath.contains(failFor))) {
            return;
        }
        if (dieInstead) {
            Runtime.getRuntime().halt(134); // SIGABRT's exit status: no finally block runs
        }
        if (failWith instanceof Error) {
            throw (Error) failWith;
        }
        throw failWith instanceof RuntimeException ? (RuntimeException) failWith : usual;
    }
}
