package androidx.exifinterface.media;

import java.io.IOException;
import java.io.InputStream;

/** Stand-in for androidx.exifinterface.media.ExifInterface (exifinterface 1.3.7). */
public class ExifInterface {
    public static final String TAG_ORIENTATION = "Orientation";
    public static final int ORIENTATION_UNDEFINED = 0;
    public static final int ORIENTATION_NORMAL = 1;
    public static final int ORIENTATION_FLIP_HORIZONTAL = 2;
    public static final int ORIENTATION_ROTATE_180 = 3;
    public static final int ORIENTATION_FLIP_VERTICAL = 4;
    public static final int ORIENTATION_TRANSPOSE = 5;
    public static final int ORIENTATION_ROTATE_90 = 6;
    public static final int ORIENTATION_TRANSVERSE = 7;
    public static final int ORIENTATION_ROTATE_270 = 8;

    public ExifInterface(InputStream inputStream) throws IOException {}

    public int getAttributeInt(String tag, int defaultValue) {
        throw new UnsupportedOperationException("stand-in");
    }
}
