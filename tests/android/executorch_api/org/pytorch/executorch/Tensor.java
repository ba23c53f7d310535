package org.pytorch.executorch;

/** Stand-in for executorch-android 1.5.1's Tensor (Tensor.kt): the calls the app makes. */
public class Tensor {
    private final float[] data;
    private final long[] shape;

    private Tensor(float[] data, long[] shape) {
        this.data = data.clone();
        this.shape = shape.clone();
    }

    public static Tensor fromBlob(float[] data, long[] shape) {
        long numel = 1;
        for (long side : shape) {
            numel *= side;
        }
        if (numel != data.length) {
            throw new IllegalArgumentException("data size does not match the shape");
        }
        return new Tensor(data, shape);
    }

    public long[] shape() {
        return shape.clone();
    }

    public float[] getDataAsFloatArray() {
        return data.clone();
    }
}
