package org.pytorch.executorch;

/** Stand-in for executorch-android 1.5.1's EValue: the calls the app makes. */
public class EValue {
    private final Tensor tensor;

    private EValue(Tensor tensor) {
        this.tensor = tensor;
    }

    public static EValue from(Tensor tensor) {
        return new EValue(tensor);
    }

    public Tensor toTensor() {
        return tensor;
    }
}
