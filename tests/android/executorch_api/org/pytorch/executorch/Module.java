package org.pytorch.executorch;

/**
 * Stand-in for executorch-android 1.5.1's Module (Module.kt), with its Java-visible signatures:
 * {@code loadMethod} returns nothing and throws ExecutorchRuntimeException on failure (it
 * returned an int error code before pytorch/executorch#19229), {@code Module.load} throws on a
 * bad path or file. The static fields script what the native side would do.
 */
public class Module {
    /** Which call fails: "load", "loadMethod", "forward", or null for none. */
    public static String failAt;
    /** What forward returns, one float per output value. */
    public static float[] output = {0.25f};
    public static long[] lastShape;
    public static Module last;

    public boolean destroyed;

    public static Module load(String modelPath) {
        if ("load".equals(failAt)) {
            throw new ExecutorchRuntimeException(0x22, "Failed to load " + modelPath);
        }
        last = new Module();
        return last;
    }

    public void loadMethod(String methodName) {
        if ("loadMethod".equals(failAt)) {
            throw new ExecutorchRuntimeException(0x12, "Failed to load method: " + methodName);
        }
    }

    public EValue[] forward(EValue... inputs) {
        if ("forward".equals(failAt)) {
            throw new ExecutorchRuntimeException(0x12, "Failed to execute method forward");
        }
        lastShape = inputs[0].toTensor().shape();
        return new EValue[] {EValue.from(Tensor.fromBlob(output, new long[] {output.length}))};
    }

    public void destroy() {
        destroyed = true;
    }
}
