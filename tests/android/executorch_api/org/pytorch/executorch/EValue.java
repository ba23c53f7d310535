package org.pytorch.executorch;

/**
 * Stand-in for executorch-android 1.5.1's EValue (EValue.java): the calls the app makes. A
 * tensor or a string; {@code toTensor} or {@code toStr} on the other type throws
 * IllegalStateException, as there.
 */
public class EValue {
    private final Tensor tensor;
    private final String string;

    private EValue(Tensor tensor, String string) {
        this.tensor = tensor;
        this.string = string;
    }

    public static EValue from(Tensor tensor) {
        return new EValue(tensor, null);
    }

    public static EValue from(String value) {
        return new EValue(null, value);
    }

    public boolean isString() {
        return tensor == null;
    }

    public Tensor toTensor() {
        if (isString()) {
            throw new IllegalStateException("Expected EValue type Tensor, actual type String");
        }
        return tensor;
    }

    public String toStr() {
        if (!isString()) {
            throw new IllegalStateException("Expected EValue type String, actual type Tensor");
        }
        return string;
    }
}
