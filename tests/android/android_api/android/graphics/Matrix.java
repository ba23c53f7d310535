package android.graphics;

/** Stand-in for android.graphics.Matrix (API 35). */
public class Matrix {
    public Matrix() {}

    public void setScale(float sx, float sy) {}

    public void setRotate(float degrees) {}

    public boolean postScale(float sx, float sy) {
        throw new UnsupportedOperationException("stand-in");
    }
}
