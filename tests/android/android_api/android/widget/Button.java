package android.widget;

import android.content.Context;
import android.util.AttributeSet;

/** Stand-in for android.widget.Button (API 35). */
public class Button extends TextView {
    public Button(Context context, AttributeSet attrs) {
        super(context, attrs);
    }
}
