package org.melanoma.demo;

/** ExecuTorch could not load or run the model file (a corrupt or incompatible .pte). */
final class ModelLoadException extends Exception {
    private static final long serialVersionUID = 1L;

    /** False when the runtime itself is missing: another model would fail the same way. */
    final boolean modelAtFault;

    ModelLoadException(String message) {
        this(message, null, true);
    }

    ModelLoadException(String message, Throwable cause) {
        this(message, cause, true);
    }

    ModelLoadException(String message, Throwable cause, boolean modelAtFault) {
        super(message, cause);
        this.modelAtFault = modelAtFault;
    }
}
