package org.pytorch.executorch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stand-in for executorch-android 1.5.1's Module (Module.kt), with its Java-visible signatures:
 * {@code loadMethod} returns nothing and throws ExecutorchRuntimeException on failure (it
 * returned an int error code before pytorch/executorch#19229), {@code Module.load} throws on a
 * bad path or file; {@code execute(name)} with no inputs runs a method of the program, such as a
 * constant method returning a string, and {@code getMethods} names them all. {@code destroy}
 * frees the native program (a second call does nothing), after which every other call throws
 * IllegalStateException, as there. The static fields script what the native side would do, and
 * {@link #undestroyed} counts what it still holds.
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

    public boolean destroyed;
    private final String path;

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
        checkNotDestroyed();
        fail("loadMethod", path,
                new ExecutorchRuntimeException(0x12, "Failed to load method: " + methodName));
    }

    public EValue[] forward(EValue... inputs) {
        checkNotDestroyed();
        fail("forward", path,
                new ExecutorchRuntimeException(0x12, "Failed to execute method forward"));
        lastShape = inputs[0].toTensor().shape();
        return new EValue[] {EValue.from(Tensor.fromBlob(output, new long[] {output.length}))};
    }

    public EValue[] execute(String methodName, EValue... inputs) {
        if ("forward".equals(methodName)) {
            return forward(inputs);
        }
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
        checkNotDestroyed();
        List<String> names = new ArrayList<String>();
        names.add("forward");
        names.addAll(constants().keySet());
        return names.toArray(new String[0]);
    }

    private Map<String, Object> constants() {
        return constantsFor == null || path.contains(constantsFor)
                ? constants : new LinkedHashMap<String, Object>();
    }

    public void destroy() {
        if (!destroyed) {
            undestroyed--;
        }
        destroyed = true;
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
