package org.melanoma.demo.core;

/**
 * A manifest or model that the app cannot use: missing, not valid JSON, an unknown schema version,
 * missing or unknown fields, settings this app does not implement, or an artifact that does not
 * match its manifest. The message is written for the person looking at the screen.
 */
public class ManifestException extends Exception {
    private static final long serialVersionUID = 1L;

    public ManifestException(String message) {
        super(message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}
