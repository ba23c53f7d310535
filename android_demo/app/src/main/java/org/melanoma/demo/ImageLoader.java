package org.melanoma.demo;

import android.content.ContentResolver;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.ColorSpace;
import android.graphics.Matrix;
import android.net.Uri;
import androidx.exifinterface.media.ExifInterface;
import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;
import org.melanoma.demo.core.CompleteImage;

/**
 * Decodes a photo at full resolution, upright.
 *
 * <p>Camera JPEGs usually store the sensor's pixels plus an EXIF orientation tag instead of
 * rotated pixels. The tag is applied here with an exact pixel permutation (90-degree rotations
 * and mirrors, no filtering), the way PIL.ImageOps.exif_transpose does, so the crop the user sees
 * is the crop that is preprocessed. No scaling happens before the preprocessing: the preview for
 * the screen is a separate, scaled copy.
 */
final class ImageLoader {
    /** melanoma/images.py MAX_PIXELS: the same limit and message as `melanoma predict`. */
    static final long MAX_PIXELS = 170_000_000L;

    /** The decoded photo and a copy no larger than the screen needs. */
    static final class Loaded {
        final Bitmap full;
        final Bitmap preview; // may be the same object as full

        Loaded(Bitmap full, Bitmap preview) {
            this.full = full;
            this.preview = preview;
        }
    }

    private ImageLoader() {}

    static Loaded load(ContentResolver resolver, Uri uri, int previewMaxSide) throws IOException {
        int orientation;
        try (InputStream in = open(resolver, uri)) {
            orientation = new ExifInterface(in).getAttributeInt(
                    ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL);
        } catch (IOException | RuntimeException noExif) {
            orientation = ExifInterface.ORIENTATION_NORMAL; // PNGs and many others have none
        }
        BitmapFactory.Options bounds = new BitmapFactory.Options();
        bounds.inJustDecodeBounds = true; // size only: refuse a pixel bomb before allocating it
        try (InputStream in = open(resolver, uri)) {
            BitmapFactory.decodeStream(in, null, bounds);
        }
        refuseFormatsPythonRefuses(bounds.outMimeType);
        if ((long) bounds.outWidth * bounds.outHeight > MAX_PIXELS) {
            throw new IOException(bounds.outWidth + "x" + bounds.outHeight + " is over "
                    + MAX_PIXELS / 1_000_000 + " megapixels: a decompression bomb, or a photo "
                    + "taken in a 200 MP camera mode (take it at 50 MP or less)");
        }
        // BitmapFactory fills the rows of a cut-off file and does not say so; Python refuses it.
        try (InputStream in = open(resolver, uri)) {
            CompleteImage.require(in);
        }
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        // The manifest's color_profile "convert_to_srgb": a photo tagged Display P3 (or any
        // ICC profile) is converted to sRGB, as melanoma.images.decode_rgb does (API 26+).
        options.inPreferredColorSpace = ColorSpace.get(ColorSpace.Named.SRGB);
        Bitmap decoded;
        try (InputStream in = open(resolver, uri)) {
            decoded = BitmapFactory.decodeStream(in, null, options);
        }
        if (decoded == null) {
            throw new IOException("this file is not an image this phone can decode");
        }
        Bitmap full = upright(decoded, orientation);
        return new Loaded(full, previewOf(full, previewMaxSide));
    }

    /**
     * The photo picker also offers WebP, HEIF, GIF and BMP, which BitmapFactory decodes; the
     * Python reference (melanoma.images) reads JPEG and PNG only, so the app refuses the rest
     * with its words rather than score a photo `melanoma predict` would not.
     */
    private static void refuseFormatsPythonRefuses(String mimeType) throws IOException {
        if (mimeType == null) {
            throw new IOException("this file is not an image this phone can decode");
        }
        if (!mimeType.equals("image/jpeg") && !mimeType.equals("image/png")) {
            String format = mimeType.substring(mimeType.indexOf('/') + 1);
            throw new IOException("a " + format.toUpperCase(Locale.ROOT)
                    + " image; only JPEG and PNG are read");
        }
    }

    private static InputStream open(ContentResolver resolver, Uri uri) throws IOException {
        InputStream in = resolver.openInputStream(uri);
        if (in == null) {
            throw new IOException("cannot open " + uri);
        }
        return in;
    }

    /** Apply an EXIF orientation (1-8) exactly; returns the input when there is nothing to do. */
    static Bitmap upright(Bitmap bitmap, int orientation) {
        Matrix m = new Matrix();
        switch (orientation) {
            case ExifInterface.ORIENTATION_FLIP_HORIZONTAL:
                m.setScale(-1, 1);
                break;
            case ExifInterface.ORIENTATION_ROTATE_180:
                m.setRotate(180);
                break;
            case ExifInterface.ORIENTATION_FLIP_VERTICAL:
                m.setScale(1, -1);
                break;
            case ExifInterface.ORIENTATION_TRANSPOSE:
                m.setRotate(90);
                m.postScale(-1, 1);
                break;
            case ExifInterface.ORIENTATION_ROTATE_90:
                m.setRotate(90);
                break;
            case ExifInterface.ORIENTATION_TRANSVERSE:
                m.setRotate(-90);
                m.postScale(-1, 1);
                break;
            case ExifInterface.ORIENTATION_ROTATE_270:
                m.setRotate(-90);
                break;
            default:
                return bitmap;
        }
        // filter=false: a pure permutation of pixels, no resampling.
        Bitmap turned = Bitmap.createBitmap(
                bitmap, 0, 0, bitmap.getWidth(), bitmap.getHeight(), m, false);
        if (turned != bitmap) {
            bitmap.recycle();
        }
        return turned;
    }

    private static Bitmap previewOf(Bitmap full, int maxSide) {
        int longest = Math.max(full.getWidth(), full.getHeight());
        if (longest <= maxSide) {
            return full;
        }
        float s = (float) maxSide / longest;
        return Bitmap.createScaledBitmap(full, Math.max(1, Math.round(full.getWidth() * s)),
                Math.max(1, Math.round(full.getHeight() * s)), true);
    }
}
