package org.melanoma.demo.core;

/**
 * The square crop is smaller than the model's minimum side. Smaller images would have to be
 * upsampled, which the preprocessing contract refuses (as melanoma/preprocess.py does).
 */
public final class ImageTooSmallException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int side;
    private final int minSide;

    public ImageTooSmallException(int side, int minSide) {
        // Same wording as melanoma.preprocess.crop_and_resize.
        super("image is too small: " + side + "px square crop, need at least " + minSide + "px");
        this.side = side;
        this.minSide = minSide;
    }

    public int side() {
        return side;
    }

    public int minSide() {
        return minSide;
    }
}
