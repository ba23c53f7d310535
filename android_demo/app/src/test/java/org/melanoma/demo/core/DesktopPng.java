package org.melanoma.demo.core;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Reads a lossless 8-bit RGB PNG with javax.imageio into an {@link ArgbImage}.
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
            Object colorModel = buffered.getMethod("getColorModel").invoke(image);
            Class<?> colorModelClass = Class.forName("java.awt.image.ColorModel");
            boolean alpha = (Boolean) colorModelClass.getMethod("hasAlpha").invoke(colorModel);
            Object space = colorModelClass.getMethod("getColorSpace").invoke(colorModel);
            Class<?> spaceClass = Class.forName("java.awt.color.ColorSpace");
            boolean srgb = (Boolean) spaceClass.getMethod("isCS_sRGB").invoke(space);
            if (alpha || !srgb) {
                // getRGB would composite or colour-convert: not the raw values Pillow wrote.
                throw new IOException(file + ": expected an sRGB PNG without alpha");
            }
            int width = (Integer) buffered.getMethod("getWidth").invoke(image);
            int height = (Integer) buffered.getMethod("getHeight").invoke(image);
            Method getRgb = buffered.getMethod("getRGB", int.class, int.class, int.class,
                    int.class, int[].class, int.class, int.class);
            int[] argb = new int[width * height];
            getRgb.invoke(image, 0, 0, width, height, argb, 0, width);
            return new ArgbImage(argb, width, height);
        } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
            throw new IllegalStateException("javax.imageio is not available on this JVM", e);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException ? (IOException) cause : new IOException(cause);
        }
    }
}
