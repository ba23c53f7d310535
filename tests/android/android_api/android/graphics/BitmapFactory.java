package android.graphics;

import java.io.InputStream;

/** Stand-in for android.graphics.BitmapFactory (API 35). */
public class BitmapFactory {
    /** Stand-in for BitmapFactory.Options: the fields the app sets and reads. */
    public static class Options {
        public boolean inJustDecodeBounds;
        public Bitmap.Config inPreferredConfig = Bitmap.Config.ARGB_8888;
        public ColorSpace inPreferredColorSpace = null;
        public int outWidth;
        public int outHeight;
        public String outMimeType;

        public Options() {}
    }

    /** Returns null, not an exception, when the stream is not an image it can decode. */
    public static Bitmap decodeStream(InputStream is, Rect outPadding, Options opts) {
        throw new UnsupportedOperationException("stand-in");
    }
}
