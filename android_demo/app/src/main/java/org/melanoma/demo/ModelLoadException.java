package org.melanoma.demo;

/** ExecuTorch could not load or run the model file (a corrupt or incompatible .pte). */
final class ModelLoadException extends Exception {
    private static final long serialVersionUID = 1L;

    ModelLoadException(String message) {
        super(message);
    }

    ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
