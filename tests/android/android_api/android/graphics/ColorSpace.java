package android.graphics;

/** Stand-in for android.graphics.ColorSpace (API 26+). */
public abstract class ColorSpace {
    /** Stand-in for ColorSpace.Named: the one the app asks for. */
    public enum Named {
        SRGB
    }

    public static ColorSpace get(Named name) {
        throw new UnsupportedOperationException("stand-in");
    }
}
