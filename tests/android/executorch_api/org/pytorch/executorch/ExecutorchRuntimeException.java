package org.pytorch.executorch;

/** Stand-in for executorch-android 1.5.1's ExecutorchRuntimeException (unchecked). */
public class ExecutorchRuntimeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ExecutorchRuntimeException(int errorCode, String details) {
        super(String.format("[ExecuTorch Error 0x%x] %s", errorCode, details));
    }
}
