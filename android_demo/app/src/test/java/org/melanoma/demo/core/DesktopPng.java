package org.melanoma.demo.core;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Reads a lossless 8-bit RGB or RGBA PNG with javax.imageio into an {@link ArgbImage} holding
 * the ARGB ints Bitmap.getPixels would give: the file's samples as stored, alpha unpremultiplied
 * (0xff for RGB). Pixels are not composited here; that is the core's job.
 *
 * <p>Through reflection on purpose: `./gradlew test` compiles unit tests against the Android
 * API, which has no java.awt or javax.imageio, while the tests run on a desktop JVM, which does.
 * Calling ImageIO by name keeps these tests compiling under Gradle as well as with plain javac.
 */
final class DesktopPng {
    private DesktopPng() {}

    static ArgbImage read(File file) throws IOException {
        try {
            Class<?> imageIo = Class.forName("javax.imageio.ImageIO");
            Object image = imageIo.getMethod("read", File.class).invoke(null, file);
            if (image == null) {
                throw new IOException(file + ": not an image javax.imageio can read");
            }
            Class<?> buffered = Class.forName("java.awt.image.BufferedImage");
            Class<?> colorModelClass = Class.forName("java.awt.image.ColorModel");
            Class<?> spaceClass = Class.forName("java.awt.color.ColorSpace");
            Class<?> rasterClass = Class.forName("java.awt.image.Raster");
            Object colorModel = buffered.getMethod("getColorModel").invoke(image);
            Object space = colorModelClass.getMethod("getColorSpace").invoke(colorModel);
            boolean srgb = (Boolean) spaceClass.getMethod("isCS_sRGB").invoke(space);
            boolean premultiplied =
                    (Boolean) colorModelClass.getMethod("isAlphaPremultiplied").invoke(colorModel);
            int bits = (Integer) colorModelClass.getMethod("getPixelSize").invoke(colorModel);
            Object raster = buffered.getMethod("getRaster").invoke(image);
            int bands = (Integer) rasterClass.getMethod("getNumBands").invoke(raster);
            // Raw raster samples, not getRGB: no colour conversion or alpha handling can creep in.
            // 3 or 4 bands of 8 bits in sRGB is what Pillow writes for RGB and RGBA arrays.
            if (!srgb || premultiplied || bits != 8 * bands || (bands != 3 && bands != 4)) {
                throw new IOException(file + ": expected an 8-bit sRGB RGB or RGBA PNG");
            }
            int width = (Integer) buffered.getMethod("getWidth").invoke(image);
            int height = (Integer) buffered.getMethod("getHeight").invoke(image);
            Method getPixels = rasterClass.getMethod(
                    "getPixels", int.class, int.class, int.class, int.class, int[].class);
            int[] argb = new int[width * height];
            int[] row = new int[width * bands];
            for (int y = 0; y < height; y++) { // row by row: a 12 MP photo stays small
                getPixels.invoke(raster, 0, y, width, 1, row);
                for (int x = 0; x < width; x++) {
                    int s = x * bands;
                    int a = bands == 4 ? row[s + 3] : 0xff;
                    argb[y * width + x] = a << 24 | row[s] << 16 | row[s + 1] << 8 | row[s + 2];
                }
            }
            return new ArgbImage(argb, width, height);
        } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
            throw new IllegalStateException("javax.imageio is not available on this JVM", e);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException ? (IOException) cause : new IOException(cause);
        }
    }
}
